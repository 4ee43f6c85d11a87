"""Issue 12 item 8: ZenML's artifact commands as its users type them (`zenml` -> `artrepo`).

Output has ZenML's shape: its table columns and page line, `-o json` with
`items` and `pagination`; errors stay artrepo's one line and exit code 1.
"""
import json

import numpy as np

from artrepo import save_artifact
from artrepo_testing import run_cli


def versions(project, *args):
    out = run_cli("artifact", "version", "list", *args, "-o", "json", cwd=project, check=True).stdout
    return json.loads(out)


def test_artifact_list_has_zenml_columns_and_json_shape(project):
    save_artifact(np.arange(3), name="iris_dataset")
    save_artifact(np.arange(4), name="iris_dataset", version="raw_2023")
    save_artifact([1], name="other")
    table = run_cli("artifact", "list", cwd=project, check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "LATEST", "VERSION", "NAME", "TAGS"]
    assert table[2].split() == ["iris_dataset", "raw_2023", "[]"]
    assert table[-1] == "Page (1/1), 2 items found for the applied filters."
    doc = json.loads(run_cli("artifact", "list", "-o", "json", "--name", "contains:iris", cwd=project,
                             check=True).stdout)
    assert doc == {"items": [{"name": "iris_dataset", "latest_version_name": "raw_2023", "tags": []}],
                   "pagination": {"index": 1, "max_size": 20, "total_pages": 1, "total": 1}}


def test_version_list_filters_pages_and_columns(project):
    for i in range(5):
        save_artifact(np.arange(i + 1), name="arr", tags=["even"] if i % 2 == 0 else [])
    save_artifact([1], name="other")
    doc = versions(project, "--artifact", "arr", "--size", "2", "--page", "2")
    assert [i["version"] for i in doc["items"]] == ["3", "2"]  # newest first
    assert doc["pagination"] == {"index": 2, "max_size": 2, "total_pages": 3, "total": 5}
    assert set(doc["items"][0]) == {"id", "artifact", "version", "type"} and doc["items"][0]["type"] == "DataArtifact"
    assert [i["version"] for i in versions(project, "--tags", "even", "--sort_by", "asc:created")["items"]] == \
        ["1", "3", "5"]
    csv = run_cli("artifact", "version", "list", "--artifact", "other", "-c", "artifact,version,tags", "-o", "csv",
                  cwd=project, check=True).stdout
    assert csv == "artifact,version,tags\nother,1,[]\n"
    assert [i["artifact"] for i in versions(project, "--type", "MODEL")["items"]] == []


def test_version_describe_and_update_as_zenml_users_type_them(project):
    v = save_artifact(np.arange(3), name="iris_dataset", version="raw_2023", tags=["draft"])
    out = run_cli("artifact", "version", "describe", "iris_dataset", "-v", "raw_2023", cwd=project, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "Artifact version 'iris_dataset' (version: raw_2023)"
    rows = {line.split()[0]: line.split(None, 1)[1] for line in lines[3:]}
    assert rows["ID"] == v.id and rows["TYPE"] == "DataArtifact" and rows["TAGS"] == "['draft']"
    assert rows["MATERIALIZER"] == "numpy/v1" and "'shape': [3]" in rows["RUN_METADATA"]
    out = run_cli("artifact", "version", "update", "iris_dataset", "-v", "raw_2023", "-t", "approved", "-r", "draft",
                  cwd=project, check=True).stdout
    assert out == f"Artifact version '{v.id}' updated.\n"
    assert versions(project, "-c", "version,tags")["items"] == [{"version": "raw_2023", "tags": ["approved"]}]
    out = run_cli("artifact", "update", "iris_dataset", "-t", "golden", cwd=project, check=True).stdout
    assert out == "Artifact 'iris_dataset' updated.\n"
    listed = json.loads(run_cli("artifact", "list", "-o", "json", cwd=project, check=True).stdout)
    assert listed["items"][0]["tags"] == ["golden"]
    shown = json.loads(run_cli("artifact", "version", "describe", v.id[:10], "--json", cwd=project, check=True).stdout)
    assert shown["id"] == v.id and shown["tags"] == ["approved"]


def test_errors_are_one_line_with_artrepo_exit_codes(project):
    save_artifact([1], name="t")
    for args in (["artifact", "version", "describe", "nope"], ["artifact", "update", "t", "-n", "renamed"],
                 ["artifact", "version", "list", "--sort_by", "desc:colour"],
                 ["artifact", "version", "list", "-c", "id,colour"]):
        proc = run_cli(*args, cwd=project)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, args
    assert run_cli("artifact", "version", "list", "-o", "xml", cwd=project).returncode == 2
