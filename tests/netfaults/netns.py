"""A small lab of Linux network namespaces for fault tests (root only).

Topology: a hub namespace holds a bridge; each node namespace has an `eth0`
whose veth peer sits on the bridge, with its own address in a random private
/24; the root namespace (where the test, the logs and the webhook receiver run)
joins the bridge the same way as .1. Every name carries a random suffix, so
parallel runs and leftovers of a killed run never collide; `close` removes it all.

Faults are the kernel's, applied inside a node's namespace to what it sends:
- a partition drops every packet to the other side's addresses (nftables);
- loss and delay use `tc qdisc ... netem` when the kernel has netem, and else
  loss alone through nftables' `numgen random` (a kernel built without netem,
  such as a minimal VM kernel, cannot delay packets at all).
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SETUP = Path(__file__).parents[1] / "setup" / "install-iproute2.sh"
FAULT_TABLE = "wnfault"


class LabError(RuntimeError):
    """A command that builds or changes the lab failed (its stderr is in the message)."""


def run(*argv: str, input: str | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=60)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def install_tools() -> None:
    """Run the idempotent installer when `ip`, `tc` or `nft` is missing."""
    if all(shutil.which(t) for t in ("ip", "tc", "nft")):
        return
    run("bash", str(SETUP))


def _free_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.0/24 that no route or address on this host overlaps."""
    used = [
        ipaddress.ip_network(word, strict=False)
        for line in run("ip", "-4", "route", "show", "table", "all").splitlines()
        for word in line.split()[:1]
        if word[0].isdigit()
    ]
    for _ in range(100):
        net = ipaddress.ip_network(
            f"10.{secrets.randbelow(200) + 50}.{secrets.randbelow(256)}.0/24"
        )
        if not any(net.overlaps(u) for u in used):
            return net
    raise LabError("no free 10.x.y.0/24 subnet")


@dataclass
class Node:
    name: str
    netns: str
    address: str

    def exec_argv(self, *argv: str) -> list[str]:
        """argv that runs a command inside this node's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]


@dataclass
class Lab:
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    nodes: dict[str, Node] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    netem: bool | None = None

    @property
    def hub(self) -> str:
        return f"wnp-{self.suffix}-hub"

    @property
    def root_link(self) -> str:
        return f"wnp{self.suffix}r"

    @property
    def root_address(self) -> str:
        return str(self.subnet.network_address + 1)

    def _netns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def open(self) -> None:
        """Create the hub and its bridge, and join the root namespace to it."""
        self._netns(self.hub)
        run("ip", "-n", self.hub, "link", "add", "name", "br0", "type", "bridge")
        run("ip", "-n", self.hub, "link", "set", "br0", "up")
        peer = f"r{self.suffix}"
        run("ip", "link", "add", "name", self.root_link, "type", "veth",
            "peer", "name", peer, "netns", self.hub)  # fmt: skip
        run("ip", "-n", self.hub, "link", "set", peer, "master", "br0", "up")
        run("ip", "addr", "add", f"{self.root_address}/24", "dev", self.root_link)
        run("ip", "link", "set", self.root_link, "up")

    def add_node(self, name: str) -> Node:
        """A namespace with eth0 on the bridge, at the next address of the subnet."""
        index = len(self.nodes)
        netns = f"wnp-{self.suffix}-{name}"
        self._netns(netns)
        hub_end = f"h{self.suffix}n{index}"
        run("ip", "-n", self.hub, "link", "add", "name", hub_end, "type", "veth",
            "peer", "name", "eth0", "netns", netns)  # fmt: skip
        run("ip", "-n", self.hub, "link", "set", hub_end, "master", "br0", "up")
        address = str(self.subnet.network_address + 10 + index)
        run("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        run("ip", "-n", netns, "link", "set", "eth0", "up")
        node = self.nodes[name] = Node(name, netns, address)
        return node

    def close(self) -> None:
        """Remove every namespace (and with them every veth) and the root link."""
        for netns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=60)
        self.namespaces.clear()
        subprocess.run(["ip", "link", "del", self.root_link], capture_output=True, timeout=60)

    # Faults.

    def _nft(self, node: Node, rules: list[str]) -> None:
        self.clear_faults(node)
        body = "\n".join(f"    {r}" for r in rules)
        script = (
            f"table inet {FAULT_TABLE} {{\n  chain out {{\n"
            f"    type filter hook output priority 0; policy accept;\n{body}\n  }}\n}}\n"
        )
        run(*node.exec_argv("nft", "-f", "-"), input=script)

    def partition(self, side: list[Node], other: list[Node]) -> None:
        """Drop every packet between the two sides (both directions)."""
        for a, b in ((side, other), (other, side)):
            drop = ", ".join(n.address for n in b)
            for node in a:
                self._nft(node, [f"ip daddr {{ {drop} }} drop"])

    def lossy(self, node: Node, loss_percent: int, delay_ms: int) -> str:
        """Lose (and, with netem, delay) what `node` sends; say what was applied."""
        if self.netem is not False:
            try:
                netem = ["netem", "loss", f"{loss_percent}%", "delay", f"{delay_ms}ms"]
                run(*node.exec_argv("tc", "qdisc", "replace", "dev", "eth0", "root", *netem))
                self.netem = True
                return f"tc netem loss {loss_percent}% delay {delay_ms}ms"
            except LabError:
                self.netem = False
        self._nft(node, [f"numgen random mod 100 < {loss_percent} drop"])
        return f"nftables numgen loss {loss_percent}% (this kernel has no netem: no delay)"

    def clear_faults(self, node: Node) -> None:
        subprocess.run(node.exec_argv("nft", "delete", "table", "inet", FAULT_TABLE),
                       capture_output=True, timeout=60)  # fmt: skip
        subprocess.run(node.exec_argv("tc", "qdisc", "del", "dev", "eth0", "root"),
                       capture_output=True, timeout=60)  # fmt: skip
