"""A private OpenDKIM (Debian's opendkim) in verify mode on 127.0.0.1, as the milter of the Postfix "dkimverify"
listener: it checks every DKIM signature of the mail that listener accepts and adds
``Authentication-Results: mx.dkim.test; dkim=pass ...``. Public keys are looked up through libunbound, forwarded
to a private DNS server (dnsmasq) on 127.0.0.1 — never the network.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mailstack import wait_for_port

AUTHSERV_ID = "mx.dkim.test"


def binary() -> str | None:
    return shutil.which("opendkim") or (p if Path(p := "/usr/sbin/opendkim").exists() else None)


class OpenDkim:
    def __init__(self, directory: Path, port: int, dns_port: int, zone: str):
        self.dir, self.port, self.dns_port, self.zone = directory, port, dns_port, zone
        self.proc: subprocess.Popen | None = None
        self.log = directory / "opendkim.log"

    def start(self) -> "OpenDkim":
        exe = binary()
        if exe is None:
            raise RuntimeError("opendkim is not installed (tools/install-deps installs it)")
        unbound = self.dir / "unbound.conf"
        unbound.write_text(f"""server:
  do-not-query-localhost: no
  module-config: "iterator"
  # A forwarder that answered slowly once (a loaded CI machine) is probed again at once rather than
  # being left as unresponsive for the infra cache's 15 minutes.
  infra-keep-probing: yes
forward-zone:
  name: "{self.zone}"
  forward-addr: 127.0.0.1@{self.dns_port}
""")
        conf = self.dir / "opendkim.conf"
        conf.write_text(f"""Mode v
Socket inet:{self.port}@127.0.0.1
Background no
Syslog no
PidFile {self.dir}/opendkim.pid
ResolverConfiguration {unbound}
AuthservID {AUTHSERV_ID}
AlwaysAddARHeader yes
# Below Postfix's milter_content_timeout (mailstack.py), so that a lost lookup is OpenDKIM's tempfail, not a hang.
DNSTimeout 5
""")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([exe, "-f", "-x", str(conf)], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port("127.0.0.1", self.port, 20, self.proc, "opendkim")
        return self

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
