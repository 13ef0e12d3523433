#version 330
// Overlay text (help, info): an RGBA image with straight alpha, blended over the frame.
uniform sampler2D u_overlay;
in vec2 v_uv;
out vec4 frag_color;
void main() {
    frag_color = texture(u_overlay, v_uv);
}
