"""Write the generated reference docs."""

from __future__ import annotations

from pathlib import Path

from bastion.docgen import alert_kinds, cli, ib_codes, order_states

GENERATED = {
    "order-states.md": order_states.render,
    "alert-kinds.md": alert_kinds.render,
    "ib-codes.md": ib_codes.render,
    "cli.md": cli.render,
}


def main(docs: Path = Path("docs")) -> None:
    for name, render in GENERATED.items():
        (docs / name).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
