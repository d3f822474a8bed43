#!/bin/sh
# Fleetdeck agent installer, served by every Fleetdeck server at /agent/install.sh:
#
#   curl -fsSL https://fleetdeck.example/agent/install.sh | sudo sh -s -- --token fdr_...
#
# It installs fleetdeck-agent into a virtualenv under /opt/fleetdeck-agent from the server's own
# wheelhouse (<server>/agent/dist/: nothing comes from the internet), registers this host, and
# runs the agent as the systemd unit fleetdeck-agent. Running it again upgrades in place; with
# --token it also registers again. A failed run leaves the host as it was.
#
# Paths can be moved (for tests, or an unusual layout): FLEETDECK_INSTALL_ROOT prefixes them all;
# FLEETDECK_INSTALL_DIR, FLEETDECK_CONFIG_DIR and FLEETDECK_UNIT_DIR set each one.

set -eu

DEFAULT_SERVER=__FLEETDECK_SERVER__
UNIT_NAME=fleetdeck-agent.service

usage() {
	cat <<'USAGE'
Usage: install.sh [options]

  --token TOKEN      registration token (fdr_...); needed unless this host is registered already
                     [FLEETDECK_REGISTRATION_TOKEN]
  --server URL       the Fleetdeck server (default: the one this script came from)
  --tag KEY=VALUE    instance tag, repeatable; added to the token's tags
  --name NAME        instance name (default: the name already registered, else the host name)
  --root DIR         deployment root (default: /opt/fleetdeck-agent/deployment-root)
  --ca-bundle FILE   CA certificates for the server's TLS
  --python PATH      the Python to run the agent with, 3.9 or newer (default: python3) [FLEETDECK_PYTHON]
  --adopt-codedeploy CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID
                     take over the CodeDeploy agent's state for that group (repeatable), so the first
                     Fleetdeck deployment stops the old revision and replaces its files
                     (see fleetdeck-agent adopt-codedeploy --help)
  --no-start         install and register, but do not enable or start the unit
  --uninstall        stop the agent, remove its unit and virtualenv; keep its config and deployment root
  --purge            uninstall, and remove the config and the deployment root too
  -h, --help         show this help
USAGE
}

say() { printf 'fleetdeck-install: %s\n' "$*"; }
die() {
	printf 'fleetdeck-install: error: %s\n' "$*" >&2
	exit 1
}

unit_template() {
	cat <<'FLEETDECK_UNIT'
__FLEETDECK_UNIT__
FLEETDECK_UNIT
}

# Paths end up in a systemd unit and in sed replacements: keep them to plain characters.
check_path() {
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path (got '$2')" ;;
	esac
	case $2 in
	*[!A-Za-z0-9._/@+-]*) die "$1 may only contain letters, digits and . _ / @ + - (got '$2')" ;;
	esac
}

config_value() {
	[ -f "$CONFIG" ] || return 0
	sed -n "s/^$1: *//p" "$CONFIG" | head -n 1 | sed "s/^[\"']//; s/[\"']\$//"
}

find_python() {
	command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found. The agent needs Python 3.9 or newer:" \
		"apt-get install python3 python3-venv (Debian, Ubuntu) or dnf install python3 (RHEL, Fedora)," \
		"or pass --python /path/to/python3"
	"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' </dev/null 2>/dev/null || die \
		"the agent needs Python 3.9 or newer, and $PYTHON is" \
		"$("$PYTHON" -V 2>&1 </dev/null || echo 'not a working Python')." \
		"Install a newer python3, or pass --python /path/to/python3.9-or-newer"
	"$PYTHON" -c 'import venv, ensurepip' </dev/null 2>/dev/null || die "Python's venv module is missing from" \
		"$PYTHON: apt-get install python3-venv (Debian, Ubuntu) or dnf install python3 (RHEL, Fedora)"
}

# Is the server there, and does it offer the agent? Asked before anything is changed.
check_server() {
	"$PYTHON" - "$SERVER/agent/dist/" "$CA_BUNDLE" <<'PY' || exit 1
import ssl, sys, urllib.error, urllib.request

url, cafile = sys.argv[1], sys.argv[2] or None
prefix = "fleetdeck-install: error: "
try:
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    with urllib.request.urlopen(url, timeout=20, context=context) as response:
        body = response.read().decode("utf-8", "replace")
except urllib.error.HTTPError as exc:
    detail = exc.read().decode("utf-8", "replace").strip().splitlines()[:1]
    sys.exit(f"{prefix}the server answered HTTP {exc.code} for {url}: {' '.join(detail) or exc.reason}. "
             "Is --server the address of your Fleetdeck server?")
except (urllib.error.URLError, OSError, ValueError) as exc:
    sys.exit(f"{prefix}cannot reach the Fleetdeck server at {url}: {getattr(exc, 'reason', exc)}. "
             "Check the address, and DNS, firewalls and proxies between this host and the server.")
if "fleetdeck_agent-" not in body:
    sys.exit(f"{prefix}{url} offers no fleetdeck-agent package: is this a Fleetdeck server?")
PY
}

pip_install() {
	set -- install --no-index --find-links "$SERVER/agent/dist/" --no-cache-dir --disable-pip-version-check \
		--quiet --timeout 60
	case $SERVER in
	http://*)
		# pip ignores plain-HTTP links unless told to trust the host (localhost is always trusted).
		host=${SERVER#http://}
		set -- "$@" --trusted-host "${host%%/*}"
		;;
	esac
	[ -z "$CA_BUNDLE" ] || set -- "$@" --cert "$CA_BUNDLE"
	"$VENV/bin/python" -m pip "$@" fleetdeck-agent </dev/null
}

# The server offers PyYAML as its own release, which may need a newer Python than this host's (PyYAML
# 6.0.4 needs 3.10; Amazon Linux 2023 and RHEL 9 ship 3.9). Such hosts usually have their
# distribution's PyYAML (cloud-init needs it): then the virtualenv sees the system's packages and
# pip uses that PyYAML instead.
install_packages() {
	log=$(mktemp)
	if pip_install 2>"$log"; then
		rm -f "$log"
		return 0
	fi
	if grep -qi pyyaml "$log"; then
		rm -rf "$VENV"
		"$PYTHON" -m venv --system-site-packages "$VENV" </dev/null ||
			die "$PYTHON could not create the virtualenv $VENV"
		if version=$("$VENV/bin/python" -c 'import yaml; print(yaml.__version__)' </dev/null 2>/dev/null); then
			say "the server's PyYAML does not install on $("$PYTHON" -V 2>&1 </dev/null); using this host's PyYAML $version"
			if pip_install 2>"$log"; then
				rm -f "$log"
				return 0
			fi
		fi
	fi
	cat "$log" >&2
	rm -f "$log"
	die "pip could not install fleetdeck-agent from $SERVER/agent/dist/ (its message is above)." \
		"If PyYAML is what is missing, install your distribution's (dnf install python3-pyyaml," \
		"apt-get install python3-yaml) and run this again"
}

# A host the CodeDeploy agent deployed to: carry its state over (before registering, so a refusal
# leaves the host as it was), or say how.
adopt_codedeploy() {
	cd_root=$PREFIX/opt/codedeploy-agent/deployment-root
	if [ -z "$ADOPT" ]; then
		[ ! -d "$cd_root/deployment-instructions" ] || say "found the CodeDeploy agent's state in $cd_root." \
			"For Fleetdeck's first deployment to replace its files and run the old ApplicationStop, run" \
			"this again with --adopt-codedeploy CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID" \
			"(or later: $VENV/bin/fleetdeck-agent adopt-codedeploy --config $CONFIG --group ...)"
		return 0
	fi
	set -- adopt-codedeploy --root "$cd_root" --fleetdeck-root "$ROOT"
	old_ifs=$IFS
	IFS=' '
	for pair in $ADOPT; do set -- "$@" --group "$pair"; done
	IFS=$old_ifs
	say "taking over the CodeDeploy agent's state from $cd_root"
	"$VENV/bin/fleetdeck-agent" "$@" </dev/null || die "could not take over the CodeDeploy agent's state (see above)"
}

register() {
	set -- register --server "$SERVER" --config "$CONFIG" --root "$ROOT"
	[ -z "$NAME" ] || set -- "$@" --name "$NAME"
	[ -z "$CA_BUNDLE" ] || set -- "$@" --ca-bundle "$CA_BUNDLE"
	# The token travels in the environment, not in argv where other users could see it.
	FLEETDECK_REGISTRATION_TOKEN=$TOKEN FLEETDECK_AGENT_TAGS=$TAGS "$VENV/bin/fleetdeck-agent" "$@" </dev/null ||
		die "registration failed (the server's answer is above)"
}

# Runs on every exit of an install: until the new installation is committed, put everything back.
rollback() {
	status=$?
	[ "$COMMITTED" = 0 ] || return 0
	rm -rf "$VENV"
	rm -f "$UNIT.new"
	if [ -d "$VENV.previous" ]; then
		mv "$VENV.previous" "$VENV"
		say "the previous installation is back in place"
	else
		say "nothing was installed"
	fi
	if [ "$WAS_ACTIVE" = 1 ]; then
		systemctl start "$UNIT_NAME" || true
	fi
	if [ "$CREATED_INSTALL_DIR" = 1 ]; then
		rmdir "$INSTALL_DIR" 2>/dev/null || true
	fi
	exit "$status"
}

install_agent() {
	SERVER=${SERVER%/}
	[ -n "$SERVER" ] || die "--server is required"
	case $SERVER in
	http://* | https://*) ;;
	*) die "--server must start with http:// or https:// (got '$SERVER')" ;;
	esac
	case $SERVER in
	*[!A-Za-z0-9._~:/@%+-]*) die "--server has characters a server address cannot have: '$SERVER'" ;;
	esac
	[ -z "$CA_BUNDLE" ] || [ -r "$CA_BUNDLE" ] || die "cannot read the CA bundle $CA_BUNDLE"
	[ -n "$TOKEN" ] || [ -f "$CONFIG" ] ||
		die "--token is required: this host is not registered yet (create a token on the server's \"Install an agent\" page)"
	[ -n "$NAME" ] || NAME=$(config_value name)
	[ -n "$ROOT" ] || ROOT=$(config_value root)
	[ -n "$ROOT" ] || ROOT=$INSTALL_DIR/deployment-root
	check_path "--root" "$ROOT"
	find_python
	check_server

	COMMITTED=0 WAS_ACTIVE=0 CREATED_INSTALL_DIR=0
	trap rollback EXIT
	trap 'exit 130' INT TERM
	[ -d "$INSTALL_DIR" ] || CREATED_INSTALL_DIR=1
	mkdir -p "$INSTALL_DIR" "$UNIT_DIR"
	if [ ! -d "$VENV" ] && [ -d "$VENV.previous" ]; then
		mv "$VENV.previous" "$VENV" # an upgrade that was killed half-way: start from what worked
	fi
	if [ -d "$VENV" ]; then
		say "upgrading the agent in $VENV"
		if [ -n "$SYSTEMCTL" ] && [ -f "$UNIT" ]; then
			if systemctl is-active --quiet "$UNIT_NAME"; then WAS_ACTIVE=1; fi
			systemctl stop "$UNIT_NAME"
		fi
		rm -rf "$VENV.previous"
		mv "$VENV" "$VENV.previous"
	fi
	say "creating the virtualenv $VENV with $PYTHON"
	"$PYTHON" -m venv "$VENV" </dev/null || die "$PYTHON could not create the virtualenv $VENV"
	say "installing fleetdeck-agent from $SERVER/agent/dist/"
	install_packages
	adopt_codedeploy
	unit_template | sed -e "s|@VENV@|$VENV|g" -e "s|@CONFIG@|$CONFIG|g" -e "s|@SERVER@|$SERVER|g" >"$UNIT.new"
	if [ -n "$TOKEN" ]; then
		say "registering this host with $SERVER"
		register
	else
		say "already registered as $NAME with $(config_value server); pass --token to register again"
	fi
	mv "$UNIT.new" "$UNIT"
	rm -rf "$VENV.previous"
	COMMITTED=1

	if [ -z "$SYSTEMCTL" ]; then
		say "systemctl not found: start the agent with your service manager:" \
			"$VENV/bin/fleetdeck-agent run --config $CONFIG"
		return 0
	fi
	systemctl daemon-reload || die "systemctl daemon-reload failed; the agent is installed but not started"
	if [ "$START" = 1 ]; then
		systemctl enable --now "$UNIT_NAME" ||
			die "systemctl could not start $UNIT_NAME: see journalctl -u fleetdeck-agent"
		say "the agent is running: systemctl status fleetdeck-agent, journalctl -u fleetdeck-agent -f"
	else
		say "installed; start it with: systemctl enable --now fleetdeck-agent"
	fi
}

uninstall_agent() {
	root=${ROOT:-$(config_value root)}
	root=${root:-$INSTALL_DIR/deployment-root}
	if [ "$PURGE" = 1 ]; then
		for dir in "$root" "$CONFIG_DIR" "$INSTALL_DIR"; do
			case ${dir%/} in
			"" | /bin | /boot | /dev | /etc | /home | /lib* | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | /usr | /var | "$PREFIX")
				die "refusing to remove $dir: it is not the agent's own directory"
				;;
			esac
		done
	fi
	if [ -n "$SYSTEMCTL" ] && [ -f "$UNIT" ]; then
		systemctl disable --now "$UNIT_NAME" || say "could not stop $UNIT_NAME; removing it anyway"
	fi
	rm -f "$UNIT" "$UNIT.new"
	if [ -n "$SYSTEMCTL" ]; then systemctl daemon-reload || true; fi
	rm -rf "$VENV" "$VENV.previous"
	if [ "$PURGE" = 1 ]; then
		rm -rf "$root" "$CONFIG_DIR" "$INSTALL_DIR"
		say "removed the agent, its config and its deployment root $root"
	else
		rmdir "$INSTALL_DIR" 2>/dev/null || true
		say "removed the agent; kept its config $CONFIG and deployment root $root (--purge removes them)"
	fi
	say "the instance stays registered with the server until you deregister it there"
}

main() {
	SERVER=$DEFAULT_SERVER
	TOKEN=${FLEETDECK_REGISTRATION_TOKEN:-}
	PYTHON=${FLEETDECK_PYTHON:-python3}
	TAGS='' NAME='' ROOT='' CA_BUNDLE='' ACTION=install PURGE=0 START=1 ADOPT=
	while [ $# -gt 0 ]; do
		opt=$1
		shift
		value=''
		case $opt in
		--*=*)
			value=${opt#*=}
			opt=${opt%%=*}
			;;
		--token | --server | --tag | --name | --root | --ca-bundle | --python | --adopt-codedeploy)
			[ $# -gt 0 ] || die "$opt needs a value"
			value=$1
			shift
			;;
		esac
		case $opt in
		--token) TOKEN=$value ;;
		--server) SERVER=$value ;;
		--tag)
			case $value in
			?*=*) ;;
			*) die "--tag takes KEY=VALUE (got '$value')" ;;
			esac
			case $value in
			*,*) die "a tag cannot contain a comma (got '$value'); repeat --tag instead" ;;
			esac
			TAGS=${TAGS:+$TAGS,}$value
			;;
		--adopt-codedeploy)
			case $value in
			?*=?*) ;;
			*) die "--adopt-codedeploy takes CODEDEPLOY_GROUP_ID=FLEETDECK_GROUP_ID (got '$value')" ;;
			esac
			case $value in
			*[!A-Za-z0-9._@+=-]*) die "--adopt-codedeploy takes deployment group ids (got '$value')" ;;
			esac
			ADOPT=${ADOPT:+$ADOPT }$value
			;;
		--name) NAME=$value ;;
		--root) ROOT=$value ;;
		--ca-bundle) CA_BUNDLE=$value ;;
		--python) PYTHON=$value ;;
		--no-start) START=0 ;;
		--uninstall) ACTION=uninstall ;;
		--purge) ACTION=uninstall PURGE=1 ;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			usage >&2
			die "unknown option '$opt'"
			;;
		esac
	done

	PREFIX=${FLEETDECK_INSTALL_ROOT:-}
	PREFIX=${PREFIX%/}
	INSTALL_DIR=${FLEETDECK_INSTALL_DIR:-$PREFIX/opt/fleetdeck-agent}
	CONFIG_DIR=${FLEETDECK_CONFIG_DIR:-$PREFIX/etc/fleetdeck-agent}
	UNIT_DIR=${FLEETDECK_UNIT_DIR:-$PREFIX/etc/systemd/system}
	for pair in "FLEETDECK_INSTALL_DIR:$INSTALL_DIR" "FLEETDECK_CONFIG_DIR:$CONFIG_DIR" \
		"FLEETDECK_UNIT_DIR:$UNIT_DIR"; do
		check_path "${pair%%:*}" "${pair#*:}"
	done
	VENV=$INSTALL_DIR/venv
	CONFIG=$CONFIG_DIR/config.yml
	UNIT=$UNIT_DIR/$UNIT_NAME
	if [ -z "$PREFIX" ] && [ "$(id -u)" != 0 ]; then
		die "run this as root: curl -fsSL <server>/agent/install.sh | sudo sh -s -- --token ..."
	fi
	SYSTEMCTL=$(command -v systemctl || true)
	# pip must see only the server's wheelhouse, whatever this host's pip configuration says.
	for var in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$var"; done
	export PIP_CONFIG_FILE=/dev/null

	if [ "$ACTION" = uninstall ]; then
		uninstall_agent
	else
		install_agent
	fi
}

# Everything runs from here, after the shell has read the whole script: `curl | sh` is safe.
main "$@"
