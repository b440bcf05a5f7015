"""kubernetes.core's k8s and k8s_info modules against the cluster, check mode included."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from harness import Cluster

PLAY = """
- name: Exercise kubernetes.core against the conformance cluster
  hosts: localhost
  gather_facts: false
  vars:
    objects:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: ansible-cm, namespace: "{{ ns }}", labels: {suite: conformance}}
        data: {key: value}
      - apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: ansible-ing, namespace: "{{ ns }}"}
        spec:
          ingressClassName: traefik
          rules:
            - host: ansible.example.org
              http:
                paths:
                  - path: /
                    pathType: Prefix
                    backend: {service: {name: web, port: {number: 80}}}
  tasks:
    - name: Apply in check mode (1)
      kubernetes.core.k8s: {state: present, apply: true, definition: "{{ objects }}"}
      check_mode: true
      register: check1
    - name: Look for the objects after check mode
      kubernetes.core.k8s_info: {kind: ConfigMap, namespace: "{{ ns }}", name: ansible-cm}
      register: after_check
    - name: Apply for real (2)
      kubernetes.core.k8s: {state: present, apply: true, definition: "{{ objects }}"}
      register: real1
    - name: Apply in check mode again (3)
      kubernetes.core.k8s: {state: present, apply: true, definition: "{{ objects }}"}
      check_mode: true
      register: check2
    - name: Apply for real again (4)
      kubernetes.core.k8s: {state: present, apply: true, definition: "{{ objects }}"}
      register: real2
    - name: Server-side apply a change
      kubernetes.core.k8s:
        state: present
        server_side_apply: {field_manager: conformance, force_conflicts: true}
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: ansible-cm, namespace: "{{ ns }}"}
          data: {key: changed}
      register: ssa
    - name: Read by label
      kubernetes.core.k8s_info:
        kind: ConfigMap
        namespace: "{{ ns }}"
        label_selectors: ["suite=conformance"]
      register: by_label
    - name: Try an invalid Ingress
      kubernetes.core.k8s:
        state: present
        definition:
          apiVersion: networking.k8s.io/v1
          kind: Ingress
          metadata: {name: bad-ing, namespace: "{{ ns }}"}
          spec: {rules: [{host: "Bad Host", http: {paths: [{path: /, pathType: Prefix,
                 backend: {service: {name: web, port: {number: 80}}}}]}}]}
      register: invalid
      ignore_errors: true
    - name: Delete in check mode
      kubernetes.core.k8s: {state: absent, kind: ConfigMap, namespace: "{{ ns }}", name: ansible-cm}
      check_mode: true
      register: delete_check
    - name: Report
      ansible.builtin.copy:
        dest: "{{ report }}"
        content: "{{ {'check1': check1.changed, 'after_check': after_check.resources | length,
                      'real1': real1.changed, 'check2': check2.changed, 'real2': real2.changed,
                      'ssa': ssa.changed, 'ssa_data': ssa.result.data,
                      'by_label': by_label.resources | map(attribute='metadata.name') | list,
                      'invalid_failed': invalid.failed, 'invalid_msg': invalid.msg | default(''),
                      'delete_check': delete_check.changed} | to_nice_yaml }}"
        mode: "0600"
"""


def test_k8s_and_k8s_info_with_check_mode(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY)
    report = tmp_path / "report.yml"
    run = cluster.playbook(
        playbook,
        "-c",
        "local",
        "-e",
        f"ns={ns}",
        "-e",
        f"report={report}",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        inventory="localhost,",
        timeout=240,
    )
    assert run.rc == 0, run.output[-6000:]
    got = yaml.safe_load(report.read_text())
    # check / real / check / real: changed, changed, unchanged, unchanged — and check mode stores nothing.
    assert (got["check1"], got["real1"], got["check2"], got["real2"]) == (True, True, False, False)
    assert got["after_check"] == 0
    assert got["ssa"] is True and got["ssa_data"] == {"key": "changed"}
    assert got["by_label"] == ["ansible-cm"]
    assert (got["invalid_failed"] is True and "Invalid" in got["invalid_msg"]) or "invalid" in got[
        "invalid_msg"
    ]
    assert got["delete_check"] is True
    still = cluster.kubectl("-n", ns, "get", "configmap", "ansible-cm", "-o", "yaml").stdout
    assert yaml.safe_load(still)["data"] == {"key": "changed"}
