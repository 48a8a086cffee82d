"""MusPy 0.5.0's metrics of every MIDI file under the given folders, with the parameters
`fugato metrics` picks (one bar of the first time signature; the first key signature, else
C major; a triple drum grid when the numerator is a multiple of 3). Writes one JSON object
{path: {metric: value}} and prints files/s on stderr. Files muspy cannot read are left out.
"""
import json, math, pathlib, sys, time

import muspy

out_path, folders = sys.argv[1], sys.argv[2:]
files = sorted(p for f in folders for p in pathlib.Path(f).rglob("*") if p.suffix.lower() in (".mid", ".midi"))


def clean(x):
    x = float(x)
    return None if math.isnan(x) else x


def metrics(m):
    ts = m.time_signatures[0] if m.time_signatures and m.time_signatures[0].time == 0 else None
    num, den = (ts.numerator, ts.denominator) if ts else (4, 4)
    res = max(1, round(m.resolution * num * 4 / den))
    root, mode = (m.key_signatures[0].root, m.key_signatures[0].mode) if m.key_signatures else (0, "major")
    meter = "triple" if num % 3 == 0 else "duple"
    four_four = all((t.numerator, t.denominator) == (4, 4) for t in m.time_signatures)
    return four_four, {
        "n_pitches_used": muspy.n_pitches_used(m),
        "n_pitch_classes_used": muspy.n_pitch_classes_used(m),
        "pitch_range": muspy.pitch_range(m),
        "empty_beat_rate": clean(muspy.empty_beat_rate(m)),
        "empty_measure_rate": clean(muspy.empty_measure_rate(m, res)),
        "polyphony": clean(muspy.polyphony(m)),
        "polyphony_rate": clean(muspy.polyphony_rate(m)),
        "pitch_in_scale_rate": clean(muspy.pitch_in_scale_rate(m, root, mode)),
        "scale_consistency": clean(muspy.scale_consistency(m)),
        "drum_in_pattern_rate": clean(muspy.drum_in_pattern_rate(m, meter)),
        "drum_pattern_consistency": clean(muspy.drum_pattern_consistency(m)),
        "pitch_entropy": clean(muspy.pitch_entropy(m)),
        "pitch_class_entropy": clean(muspy.pitch_class_entropy(m)),
        "groove_consistency": clean(muspy.groove_consistency(m, res)),
    }


result, failed = {}, 0
start = time.perf_counter()
for path in files:
    try:
        m = muspy.read_midi(str(path))
        four_four, values = metrics(m)
    except Exception:
        failed += 1
        continue
    result[str(path)] = {"four_four": four_four, "metrics": values}
seconds = time.perf_counter() - start
pathlib.Path(out_path).write_text(json.dumps(result))
print(f"files={len(files)} read={len(result)} failed={failed} seconds={seconds:.2f} files_per_s={len(files) / seconds:.1f}", file=sys.stderr)
