# Managed by tend. Shown at login: this host's state comes from git.
if [ -n "$PS1" ] && command -v tend >/dev/null 2>&1; then
    tend status 2>/dev/null | head -n 3 || true
fi
