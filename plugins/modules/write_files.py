# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the work is done on the controller by the action plugin of the same name
# (plugins/action/write_files.py); there is no module code to run on a host.

from __future__ import annotations

DOCUMENTATION = r"""
module: write_files
short_description: Write a set of files into one directory on the controller, in one task
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Writes every file of O(files) into the directory O(dest) in a single task, where a loop of
    M(ansible.builtin.copy) would run one module per file.
  - This is an action plugin that runs B(on the controller) and writes there, whatever the host's
    connection is. Use it for output that belongs next to the playbook run (rendered manifests,
    reports); use M(ansible.builtin.copy) to put files on a managed host.
  - Every file name and content, and O(mode), is checked, and the set of changes worked out, before
    anything is written; a bad entry fails the task with nothing written.
  - Each file is written to a hidden temporary file in O(dest) and renamed over its name, so a reader
    never sees a half-written file. A file whose content and mode are already right is left alone.
  - A symbolic link, FIFO, socket or device where a file of the set is to go is replaced by a regular
    file. It is never opened, read (not even for the diff), written or given another mode through, so a
    link cannot make the task show or change a file outside O(dest). Only O(dest) itself may be a link.
options:
  dest:
    description:
      - The directory to write into, on the controller. It is created with its missing parents (mode
        V(0755) less the umask) if it does not exist.
      - A relative path is taken relative to the directory C(ansible-playbook) was started in.
    type: path
    required: true
  files:
    description:
      - The files to write, as file name to content. The content is written as UTF-8 text.
      - A name must be a plain file name directly in O(dest). Names with V(/), V(..) or a leading V(.)
        are refused.
    type: dict
    required: true
  mode:
    description:
      - The permissions of every written file, as an octal string such as V(0644). Quote it in YAML;
        an unquoted V(0644) is read as an integer, which is then taken as the mode it already is.
      - A file whose content is right but whose mode is not gets its mode changed and is not rewritten,
        unless it has other hard links or was replaced since it was compared; then it is rewritten, so
        no other file's mode changes.
    type: raw
    default: "0644"
  exclusive:
    description:
      - Also remove every regular file directly in O(dest) that is not in O(files), so that O(dest)
        holds exactly the set afterwards (for example to replace an earlier run's output).
      - Subdirectories, symbolic links and anything below them are never touched.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    description: Reports in RV(written) and RV(removed) what would change; nothing is created, written or removed.
  connection:
    support: none
  delegation:
    support: none
    details: The files are always written on the controller; C(delegate_to) does not move them.
  diff_mode:
    support: full
    description:
      - One diff per written or removed file. A side larger than the C(MAX_FILE_SIZE_FOR_DIFF)
        setting, or an existing file that is not UTF-8 text, is left out of the diff with a note.
      - A change of mode alone is reported as one line.
      - A symbolic link or special file that is to be replaced is shown as an empty side with its kind
        in the header; what it points to is never read.
  platform:
    platforms: posix
    details: The controller's file system.
seealso:
  - module: ansible.builtin.copy
notes:
  - The content of the files is part of the task's arguments; set C(no_log) on the task when it is secret.
"""

EXAMPLES = r"""
- name: Write the member's rendered manifests, replacing the previous output
  binder.ingress.write_files:
    dest: "{{ playbook_dir }}/out/{{ inventory_hostname }}"
    files:
      summary.md: "{{ summary }}"
      ingress-binderhub.yaml: "{{ binderhub_ingress | to_nice_yaml }}"
    exclusive: true

- name: Write two report files readable by their owner only
  binder.ingress.write_files:
    dest: /var/tmp/reports
    files:
      hosts.txt: "{{ groups['all'] | join('\n') }}\n"
      when.txt: "{{ now(utc=true) }}\n"
    mode: "0600"
"""

RETURN = r"""
dest:
  description: The absolute path of the directory written into.
  returned: success
  type: str
  sample: /home/me/binder.ingress/out/prod/gke-prod
written:
  description:
    - The files created, rewritten or given another mode (or that would be, in check mode), sorted by name.
  returned: success
  type: list
  elements: str
  sample: [ingress-binderhub.yaml, summary.md]
removed:
  description:
    - With O(exclusive), the files removed from O(dest) (or that would be, in check mode), sorted by name.
  returned: success
  type: list
  elements: str
  sample: [ingress-old-redirect.yaml]
"""
