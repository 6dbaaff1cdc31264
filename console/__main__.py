"""`python -m console [STREAMLIT OPTIONS]` (installed as `cps1-console`): the console under
`streamlit run` with the settings a server wants (headless, no usage statistics sent, no
source watching, no developer toolbar); options given here come after them, so they win."""

import sys
from pathlib import Path

from streamlit.web import cli

APP = Path(__file__).with_name("streamlit_app.py")
SERVER_DEFAULTS = (
    "--server.headless=true",
    "--browser.gatherUsageStats=false",
    "--server.fileWatcherType=none",
    "--server.runOnSave=false",
    "--client.toolbarMode=minimal",
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    cli.main(["run", str(APP), *SERVER_DEFAULTS, *args], prog_name="cps1-console")


if __name__ == "__main__":
    main()
