#version 330
${header}
// The CPU path's colour pass (realtime_cppn.cpu) for hsv, palette and uv frames and 8-bit
// targets (its workers colour raw and rgb float frames themselves): the network's raw outputs
// arrive as a float texture the size of the target, one texel per pixel; colour them exactly
// as network.frag does.
out vec4 frag_color;
uniform sampler2D u_outputs;

${common}

void main() {
    frag_color = colorize(texelFetch(u_outputs, ivec2(gl_FragCoord.xy), 0));
}
