#version ${version}
${header}
// The older design, kept for the benchmarks: each invocation evaluates a 2x2 block of pixels
// with the four pixels in the lanes of a vec4 (every weight fetched serves four pixels, but at
// width 32 and more it takes every register and spills on real GPUs).
layout(local_size_x = 8, local_size_y = 8) in;
layout(${image_format}, binding = 0) writeonly uniform image2D u_image;

${common}

${network}

void main() {
    ivec2 base = ivec2(gl_GlobalInvocationID.xy) * 2;
    vec4 px, py;
    for (int k = 0; k < 4; k++) {
        vec2 p = network_point(vec2(base + ivec2(k & 1, k >> 1)) + 0.5);
        px[k] = p.x;
        py[k] = p.y;
    }
    vec4 o[4];
    evaluate(px, py, o);
    for (int k = 0; k < 4; k++) {
        ivec2 q = base + ivec2(k & 1, k >> 1);
        if (q.x < int(u_resolution.x) && q.y < int(u_resolution.y)) {
            imageStore(u_image, q, colorize(vec4(o[0][k], o[1][k], o[2][k], o[3][k])));
        }
    }
}
