#version 430
${header}
// One pixel per invocation, for programs whose weights are constants (realtime_cppn.bake): with
// no weight fetch to share between pixels, the single-pixel body of network.frag is as fast as
// network.comp's four and compiles in half the time or less (llvmpipe).
layout(local_size_x = 8, local_size_y = 8) in;
layout(${image_format}, binding = 0) writeonly uniform image2D u_image;

${common}

${network}

void main() {
    ivec2 q = ivec2(gl_GlobalInvocationID.xy);
    if (q.x < int(u_resolution.x) && q.y < int(u_resolution.y)) {
        imageStore(u_image, q, colorize(evaluate(network_point(vec2(q) + 0.5))));
    }
}
