"""The reverse proxy of the production layout: Debian's nginx in front of the replicas.

One public server (where TLS ends in production; plain HTTP on loopback in the tests) and
two internal load balancers on loopback, through which the replicas reach each other:

- ``/`` → the web replicas (widget, chat API, console, editor), round robin: every
  conversation lives in the database, so any replica serves any message.
- ``/socket.io/`` → the Rasa processes, by client address (socket.io's polling transport
  keeps a session in one process); ``/webhooks/rest/`` → any Rasa process.
- internal Rasa balancer (the web replicas' ``HELPDESK_RASA_PORT``) and internal action
  balancer (Rasa's action endpoint, the web replicas' KB client): a replica that refuses the
  connection is skipped for the next (``proxy_next_upstream error``), so one that crashed
  costs no request. Nothing is retried once it reached a replica: actions are not
  idempotent.

The internal balancers add no X-Forwarded-For: the web app's ``client_ip`` in the metadata
is the customer's address and must stand (bot/channels.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NGINX = "/usr/sbin/nginx"


@dataclass(frozen=True)
class Ports:
    public: int
    rasa_balancer: int
    action_balancer: int
    web: tuple[int, ...]
    rasa: tuple[int, ...]
    actions: tuple[int, ...]


def _servers(ports: tuple[int, ...]) -> str:
    # A replica that refused a connection is left out for 2 s, then tried again.
    return "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in ports
    )


def render(ports: Ports, prefix: Path) -> str:
    """nginx.conf for the layout; every file nginx writes stays below ``prefix``."""
    temp = prefix / "temp"
    return f"""\
# Written by helpdesk/nginx.py; see docs/deploy.md.
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}

http {{
    access_log {prefix}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    # The web app refuses bigger requests itself with a clear message. Bodies and answers
    # stay in memory: nginx's workers run as another user than the one owning the prefix
    # when started as root, and nothing here is large.
    client_max_body_size 2m;
    client_body_buffer_size 2m;
    proxy_max_temp_file_size 0;
    server_tokens off;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream web {{
{_servers(ports.web)}
    }}
    upstream rasa {{
{_servers(ports.rasa)}
    }}
    upstream rasa_sticky {{
        hash $remote_addr consistent;
{_servers(ports.rasa)}
    }}
    upstream actions {{
{_servers(ports.actions)}
    }}

    # Public: TLS ends here in production (docs/deploy.md).
    server {{
        listen 127.0.0.1:{ports.public};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_next_upstream error;

        location / {{
            proxy_pass http://web;
        }}
        location = /nginx-health {{
            access_log off;
            return 200 "ok\n";
        }}
        location /socket.io/ {{
            proxy_pass http://rasa_sticky;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }}
        location /webhooks/rest/ {{
            proxy_pass http://rasa;
        }}
    }}

    # Internal: the web replicas reach Rasa here.
    server {{
        listen 127.0.0.1:{ports.rasa_balancer};
        proxy_http_version 1.1;
        proxy_next_upstream error;
        proxy_read_timeout 60s;
        location / {{
            proxy_pass http://rasa;
        }}
    }}

    # Internal: Rasa's action endpoint and the web replicas' KB client.
    server {{
        listen 127.0.0.1:{ports.action_balancer};
        proxy_http_version 1.1;
        proxy_next_upstream error;
        proxy_read_timeout 60s;
        location / {{
            proxy_pass http://actions;
        }}
    }}
}}
"""


def write(ports: Ports, prefix: Path) -> Path:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(render(ports, prefix), encoding="utf-8")
    return path


def argv(conf: Path) -> list[str]:
    # -e: the error log before the configuration is read goes here too, not to /var/log.
    return [NGINX, "-p", str(conf.parent), "-c", str(conf), "-e", str(conf.parent / "error.log")]
