#!/usr/bin/env bash
# `make portal`: the manager portal alone (include/portal). Its emails (address confirmations, password resets)
# need an SMTP server: when nothing listens on the sink's port, the local sink runs beside it and writes them to
# .local/mail/*.eml, where you open the link. Ctrl-C stops both.
set -euo pipefail
sink=""
if python -c 'import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", 8025)) == 0)'; then
    python -m include.inventory.mailsink --port 8025 --dir "$PROJECT_ROOT/.local/mail" &
    sink=$!
    echo "Mail sink on 127.0.0.1:8025: the portal's emails land in $PROJECT_ROOT/.local/mail/"
fi
trap 'if [ -n "$sink" ]; then kill "$sink" 2>/dev/null || true; fi' EXIT
python -m include.portal serve "$@"
