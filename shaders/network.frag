#version ${version}
${header}
out vec4 frag_color;

${common}

${network}

void main() {
    frag_color = colorize(evaluate(network_point(gl_FragCoord.xy)));
}
