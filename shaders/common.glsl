// Shared by the fragment and compute network shaders: weight access, coordinates, colour.
uniform vec2 u_resolution;  // target size in pixels
uniform vec2 u_center;      // network coordinates of the screen centre
uniform float u_scale;      // network units per half of the shorter side (spec scale / zoom)
uniform int u_symmetry;     // 0 none, 1 mirror x, 2 mirror y, 3 both
uniform int u_color_mode;   // 0 raw network outputs, 1 display colour

${weights_decl}

// Pixel centre (gl_FragCoord convention: y up, origin bottom-left) -> network coordinates.
// Must match realtime_cppn.spec.coords exactly.
vec2 network_point(vec2 frag) {
    vec2 p = (2.0 * frag - u_resolution) / min(u_resolution.x, u_resolution.y);
    if (u_symmetry == 1 || u_symmetry == 3) p.x = abs(p.x);
    if (u_symmetry >= 2) p.y = abs(p.y);
    return u_center + u_scale * p;
}

vec4 colorize(vec4 o) {
    if (u_color_mode == 0) return vec4(o.xyz, 1.0);
${colorize}
}

${activations}
