#version ${version}
${header}
// One pixel per invocation, the same body as network.frag: straight-line code whose every
// weight is an operand from the constant cache needs few registers, so many waves stay
// resident; a 16x16 group covers 16x16 pixels.
layout(local_size_x = 16, local_size_y = 16) in;
layout(${image_format}, binding = 0) writeonly uniform image2D u_image;
uniform ivec2 u_tile;  // pixel offset of this dispatch: big frames go in bands (Renderer)

${common}

${network}

void main() {
    ivec2 q = ivec2(gl_GlobalInvocationID.xy) + u_tile;
    if (q.x < int(u_resolution.x) && q.y < int(u_resolution.y)) {
        imageStore(u_image, q, colorize(evaluate(network_point(vec2(q) + 0.5))));
    }
}
