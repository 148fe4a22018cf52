"""`hipsgen release submit --engine kubernetes` writes manifests that parse as Kubernetes objects (PyYAML, an
independent parser) with the shape the issue asks for: a ConfigMap holding the configuration, per band HiPS an Indexed
Job of its shards (completionMode Indexed, completions = shards, backoffLimitPerIndex from the config) whose pods run
`release shard` (the shard from JOB_COMPLETION_INDEX), and finalize/publish Jobs that wait for the markers. No cluster
can run on these machines; the exact text is also checked against a golden file by hipsgen/tests/release_local.rs.
"""

import subprocess

import yaml

CONFIG = """
[release]
id = "dr1"
out = "s3://bucket/hips"
authority = "ivo://example.org/P/test"
public_url = "https://hips.example.org"
title = "T"
shards = 5
[kubernetes]
image = "registry.example.org/hipsgen:1.2"
namespace = "survey"
cpu = "4"
memory = "16Gi"
parallelism = 3
backoff_limit_per_index = 2
[hips.g]
input = ["s3://coadds/g/a.fits"]
band = "g"
[hips.r]
input = ["s3://coadds/r/a.fits"]
band = "r"
[hips.i]
input = ["s3://coadds/i/a.fits"]
band = "i"
[hips.color]
color = { red = "i", green = "r", blue = "g" }
"""


def test_manifests_parse_and_have_the_asked_shape(hipsgen_bin, tmp_path):
    cfg = tmp_path / "release.toml"
    cfg.write_text(CONFIG)
    r = subprocess.run([str(hipsgen_bin), "release", "submit", "--engine", "kubernetes", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    cm = [d for d in docs if d["kind"] == "ConfigMap"]
    assert len(cm) == 1 and "shards = 5" in cm[0]["data"]["release.toml"]
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    assert set(jobs) == {"dr1-shards-g", "dr1-shards-r", "dr1-shards-i", "dr1-finalize-g", "dr1-finalize-r",
                         "dr1-finalize-i", "dr1-finalize-color", "dr1-finalize-publish"}
    for b in "gri":
        j = jobs[f"dr1-shards-{b}"]
        assert j["apiVersion"] == "batch/v1" and j["metadata"]["namespace"] == "survey"
        s = j["spec"]
        assert (s["completionMode"], s["completions"], s["parallelism"], s["backoffLimitPerIndex"]) == \
            ("Indexed", 5, 3, 2)
        c = s["template"]["spec"]["containers"][0]
        assert c["image"] == "registry.example.org/hipsgen:1.2"
        assert c["command"] == ["hipsgen", "release", "shard", "--hips", b, "--config", "/etc/hipsgen/release.toml"]
        assert c["resources"]["limits"] == {"cpu": "4", "memory": "16Gi"}
        assert s["template"]["spec"]["restartPolicy"] == "Never"
    fin = jobs["dr1-finalize-publish"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert fin[1:] == ["release", "finalize", "--wait", "--publish", "--config", "/etc/hipsgen/release.toml"]
    assert "--wait" in jobs["dr1-finalize-color"]["spec"]["template"]["spec"]["containers"][0]["command"]
