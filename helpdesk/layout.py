"""The production layout on one machine, for the deploy tests and benchmarks.

nginx in front (helpdesk/nginx.py), and ``replicas`` nodes, each as a separate machine would
be: a web replica, a Rasa process and an action server with their own data folder and
their own copy of the KB files. They share only what production shares: PostgreSQL (the
helpdesk's database and Rasa's tracker store), Redis (Rasa's lock store and the rate
limits) and one secrets folder. Every process is started the way ``helpdesk serve`` starts
it (helpdesk/stack.py); only the addresses differ:

- the web replicas reach Rasa and the KB through nginx's internal balancers,
- Rasa's action endpoint is the internal action balancer,
- the public address is nginx's, so the guide links and the allowed origin are nginx's, and
  one proxy hop is trusted for the customer's address.

PostgreSQL and Redis are not started here: in production they are the provider's, in the
tests and benchmarks throw-away ones (bench/services.py).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.settings import Settings, load_settings
from helpdesk import nginx
from helpdesk.ports import free_port
from helpdesk.rasa_config import write_credentials, write_endpoints
from helpdesk.stack import ServerProcess, Stack, StackError, bot_model_path, wait_healthy
from retrieval.embeddings import resolve_model

NODE_NAMES = "abcdefgh"


@dataclass
class Node:
    name: str
    settings: Settings
    web: ServerProcess
    rasa: ServerProcess
    actions: ServerProcess

    @property
    def servers(self) -> list[ServerProcess]:
        return [self.actions, self.rasa, self.web]


def _redis_db(url: str, db: int) -> str:
    """The same Redis server, another of its numbered databases."""
    return urlsplit(url)._replace(path=f"/{db}").geturl()


class Layout:
    """``with Layout(root, database_url=…, redis_url=…) as layout:`` starts it all."""

    def __init__(
        self,
        root: Path,
        *,
        database_url: str,
        redis_url: str,
        replicas: int = 2,
        allowed_origins: tuple[str, ...] = (),
        model: Path | None = None,
        **overrides: Any,
    ) -> None:
        """``overrides``: further settings for every process (e.g. higher rate limits for
        a load test whose customers all come from this machine)."""
        base = load_settings()
        self.root = root
        self.model = model or bot_model_path(base)
        self.ports = nginx.Ports(
            public=free_port(),
            rasa_balancer=free_port(),
            action_balancer=free_port(),
            web=tuple(free_port() for _ in range(replicas)),
            rasa=tuple(free_port() for _ in range(replicas)),
            actions=tuple(free_port() for _ in range(replicas)),
        )
        self.public_url = f"http://127.0.0.1:{self.ports.public}"
        shared = dataclasses.replace(
            base,
            embedding_model=resolve_model(base),
            database_url=database_url,
            tracker_store_url=database_url,
            lock_store_url=_redis_db(redis_url, 1),
            rate_limit_storage_url=_redis_db(redis_url, 2),
            secrets_dir=str(root / "secrets"),
            public_url=self.public_url,
            allowed_origins=(self.public_url, *allowed_origins),
            trusted_proxies=1,
            rasa_workers=1,
            demo=False,
            **overrides,
        )
        self.settings = shared
        self.nodes = [self._node(NODE_NAMES[i], i, shared, base) for i in range(replicas)]
        conf = nginx.write(self.ports, root / "nginx")
        self.nginx = ServerProcess(
            "nginx",
            nginx.argv(conf),
            f"{self.public_url}/nginx-health",
            root / "nginx",
            {},
            root / "nginx" / "nginx.log",
        )

    def _node(self, name: str, i: int, shared: Settings, base: Settings) -> Node:
        home = self.root / f"node-{name}"
        kb_dir = home / "kb"
        shutil.copytree(base.kb_dir, kb_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        if (base.index_dir / "manifest.json").exists():  # only changes are encoded at start
            index = home / "var" / "index"
            shutil.copytree(base.index_dir, index, ignore=shutil.ignore_patterns(".lock"))
        settings = dataclasses.replace(
            shared,
            kb_dir=kb_dir,
            data_dir=home / "var",
            web_port=self.ports.web[i],
            rasa_port=self.ports.rasa[i],
            action_port=self.ports.actions[i],
        )
        stack = Stack(settings, model=self.model)
        # What a node's Rasa and web replica reach goes through the balancers.
        balanced = dataclasses.replace(settings, action_port=self.ports.action_balancer)
        write_endpoints(balanced, settings.data_dir / "rasa" / "endpoints.yml")
        write_credentials(settings, settings.data_dir / "rasa" / "credentials.yml")
        stack.web.env.update(
            HELPDESK_RASA_PORT=str(self.ports.rasa_balancer),
            HELPDESK_ACTION_PORT=str(self.ports.action_balancer),
        )
        for server in stack.servers:
            server.name = f"{server.name}-{name}"
        return Node(name, settings, stack.web, stack.rasa, stack.actions)

    @property
    def servers(self) -> list[ServerProcess]:
        return [server for node in self.nodes for server in node.servers] + [self.nginx]

    def server(self, name: str) -> ServerProcess:
        return next(s for s in self.servers if s.name == name)

    def start(self, timeout: float = 300) -> None:
        if not self.model.is_file():
            raise StackError(f"no trained bot model at {self.model}: run 'make bot'")
        if not Path(nginx.NGINX).exists():
            raise StackError(f"{nginx.NGINX} is missing: run scripts/install-test-services.sh")
        for server in self.servers:
            server.start()
        wait_healthy(self.servers, timeout)

    def kill(self, name: str) -> None:
        """SIGKILL, as the kernel's OOM killer would: no clean shutdown."""
        server = self.server(name)
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()

    def restart(self, name: str, timeout: float = 180) -> float:
        """Start a stopped server again; seconds until it was healthy."""
        server = self.server(name)
        started = time.monotonic()
        server.start()
        wait_healthy([server], timeout)
        return time.monotonic() - started

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    def __enter__(self) -> Layout:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
