#version 330
// Shows a rendered frame scaled up with a Catmull-Rom bicubic in 9 bilinear taps (the weights
// of each 4x4 footprint's middle pair folded into one tap position): sharper than blit.frag's
// bilinear where a reduced render scale is upscaled. Taps are clamped to the edge texels, so a
// frame never wraps around at the window's border. A program of its own: a software
// rasterizer runs both sides of a branch, and the plain blit must stay one tap.
uniform sampler2D u_frame;
in vec2 v_uv;
out vec4 frag_color;

vec3 tap(vec2 texel, vec2 size) {
    return texture(u_frame, clamp(texel, vec2(0.5), size - 0.5) / size).rgb;
}

vec3 catmull_rom(vec2 uv) {
    vec2 size = vec2(textureSize(u_frame, 0));
    vec2 pos = uv * size;
    vec2 c = floor(pos - 0.5) + 0.5;  // the texel centre at or below pos
    vec2 f = pos - c;
    vec2 w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    vec2 w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    vec2 w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    vec2 w3 = f * f * (-0.5 + 0.5 * f);
    vec2 w12 = w1 + w2;
    vec2 p0 = c - 1.0;
    vec2 p12 = c + w2 / w12;
    vec2 p3 = c + 2.0;
    vec3 rgb = (tap(vec2(p0.x, p0.y), size) * w0.x + tap(vec2(p12.x, p0.y), size) * w12.x
                + tap(vec2(p3.x, p0.y), size) * w3.x) * w0.y
             + (tap(vec2(p0.x, p12.y), size) * w0.x + tap(vec2(p12.x, p12.y), size) * w12.x
                + tap(vec2(p3.x, p12.y), size) * w3.x) * w12.y
             + (tap(vec2(p0.x, p3.y), size) * w0.x + tap(vec2(p12.x, p3.y), size) * w12.x
                + tap(vec2(p3.x, p3.y), size) * w3.x) * w3.y;
    return clamp(rgb, 0.0, 1.0);  // the negative lobes overshoot at edges
}

void main() {
    frag_color = vec4(catmull_rom(v_uv), 1.0);
}
