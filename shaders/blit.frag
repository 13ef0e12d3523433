#version 330
// Shows a rendered frame (any size: linear filtering upscales a reduced render scale).
uniform sampler2D u_frame;
in vec2 v_uv;
out vec4 frag_color;
void main() {
    frag_color = vec4(texture(u_frame, v_uv).rgb, 1.0);
}
