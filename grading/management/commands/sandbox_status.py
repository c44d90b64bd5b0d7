import time

from django.core.management.base import BaseCommand, CommandError

from grading.jobs import sandbox_client
from grading.sandbox.client import SandboxUnavailable


class Command(BaseCommand):
    help = "Ask the grading sandbox whether it is up and which protections it applies."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="seconds to wait for it; then fail unless it runs code with every protection",
        )

    def handle(self, *args, wait: float, **options):
        client = sandbox_client()
        deadline = time.monotonic() + wait
        while True:
            try:
                status = client.ping()
                break
            except SandboxUnavailable as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(f"The sandbox is not reachable: {exc}") from exc
                time.sleep(0.5)
        self.stdout.write(
            f"sandbox up at {client.socket_path}: torch {status.get('torch_version')}"
        )
        for name, state in (status.get("protections") or {}).items():
            if isinstance(state, dict):
                label = "OK" if state.get("ok") else "MISSING"
                self.stdout.write(f"  {name:<20} {label:<8} {state.get('detail', '')}")
            else:
                self.stdout.write(f"  {name:<20} {state}")
        if wait and not status.get("ready"):
            # Up is not enough for a caller that waits to use it (`make run`): a sandbox that
            # refuses to run code would only fail later, at the first key check.
            missing = [
                name
                for name, state in (status.get("protections") or {}).items()
                if isinstance(state, dict) and not state.get("ok")
            ]
            raise CommandError(
                f"The sandbox is up but refuses to run code: protection(s) missing: "
                f"{', '.join(missing) or '?'}. {status.get('refusal') or ''}".strip()
            )
