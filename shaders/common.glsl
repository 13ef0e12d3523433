// Shared by the fragment and compute network shaders: coordinates and colour.
#define N_OUT ${channels}
#define TAU 6.28318530718
uniform vec2 u_resolution;  // target size in pixels
uniform vec2 u_center;      // network coordinates of the screen centre
uniform float u_scale;      // network units per half of the shorter side (spec scale / zoom)
uniform int u_symmetry;     // 0 none, 1 mirror x, 2 mirror y, 3 both
uniform int u_kaleido;      // n-fold kaleidoscope, 0 off
uniform int u_color_mode;   // 0 raw network outputs, 1 rgb, 2 hsv, 3 palette
uniform vec3 u_palette[4];  // cosine palette a, b, c, d
uniform sampler2D u_texture;  // uv networks sample this
uniform int u_wrap;         // 0 clamp, 1 repeat, 2 mirror
uniform vec4 u_uv_range;    // uv = (o.xy - u_uv_range.xy) * u_uv_range.zw

// Pixel centre (gl_FragCoord convention: y up, origin bottom-left) -> network coordinates.
// Must match realtime_cppn.spec.coords exactly.
vec2 network_point(vec2 frag) {
    vec2 p = (2.0 * frag - u_resolution) / min(u_resolution.x, u_resolution.y);
    if (u_symmetry == 1 || u_symmetry == 3) p.x = abs(p.x);
    if (u_symmetry >= 2) p.y = abs(p.y);
    if (u_kaleido > 0) {
        // Dihedral fold: the angle lands in [0, pi/n], so the picture has n-fold rotational
        // symmetry and no seams (each sector is mirrored, as in a real kaleidoscope).
        float sector = TAU / float(u_kaleido);
        float a = atan(p.y, p.x);
        a = a - sector * floor(a / sector);
        if (a > sector * 0.5) a = sector - a;
        p = length(p) * vec2(cos(a), sin(a));
    }
    return u_center + u_scale * p;
}

vec3 hsv2rgb(vec3 c) {
    vec3 p = abs(fract(c.xxx + vec3(1.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0);
    return c.z * mix(vec3(1.0), clamp(p - 1.0, 0.0, 1.0), c.y);
}

vec3 palette(float t) {
    return u_palette[0] + u_palette[1] * cos(TAU * (u_palette[2] * t + u_palette[3]));
}

vec2 wrap_uv(vec2 uv) {
    if (u_wrap == 1) return fract(uv);
    if (u_wrap == 2) return 1.0 - abs(mod(uv, 2.0) - 1.0);
    return clamp(uv, 0.0, 1.0);
}

// Modes 0 and 1 are also made in numpy by realtime_cppn.cpu (CpuEvaluator.frame);
// tests/test_cpu.py holds the two to the same floats.
// NaN and infinity (a tan pole, an overflow) become 0 before anything else: a clamp of NaN is
// vendor-defined, so without this every GPU would draw such pixels differently. mix() with a
// bvec selects, it never multiplies (NaN * 0 is NaN).
vec4 colorize(vec4 o) {
    o = mix(vec4(0.0), o, lessThanEqual(abs(o), vec4(3.4028235e38)));  // FLT_MAX
    if (u_color_mode == 0) return vec4(o.xyz, 1.0);
#if N_OUT == 2
    vec2 uv = wrap_uv((o.xy - u_uv_range.xy) * u_uv_range.zw);
    return vec4(textureLod(u_texture, uv, 0.0).rgb, 1.0);
#else
#if N_OUT == 1
    vec3 rgb = vec3(o.x);
    vec3 hsv = vec3(o.x, 1.0, 1.0);
#else
    vec3 rgb = o.xyz;
    vec3 hsv = clamp(o.xyz, 0.0, 1.0);
#endif
    vec3 c = u_color_mode == 2 ? hsv2rgb(hsv) : (u_color_mode == 3 ? palette(o.x) : rgb);
    return vec4(clamp(c, 0.0, 1.0), 1.0);
#endif
}

${activations}
