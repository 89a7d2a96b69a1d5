#!/usr/bin/env bash
# install.sh — install (or remove) the `docker stateful` CLI plugin, its shell
# completion, and optionally its hints after plain `docker service` commands.
#
#   ./install.sh [--binary PATH | --archive FILE] [--system] [--hooks] [--no-completion]
#   ./install.sh --uninstall [--system]
#
# Options:
#   --binary PATH    install this docker-stateful binary and the full one next to it,
#                    docker-stateful.d/docker-stateful, as `make build` makes them in bin/
#                    (default: the binaries next to install.sh in an unpacked release
#                    archive, else build them with `make build`)
#   --archive FILE   install from a release archive of `make release`
#                    (docker-stateful_<version>_<os>_<arch>.tar.gz or .zip), checked
#                    against the SHA256SUMS next to it when there is one
#   --system         install for every user: /usr/local/lib/docker/cli-plugins, completion in
#                    /usr/local/share (bash, zsh) and /etc/fish (needs root)
#                    (default: this user: $DOCKER_CONFIG/cli-plugins, or ~/.docker/cli-plugins)
#   --hooks          after a plain `docker service update`, `create` or `docker stack deploy` of a service whose data
#                    is at risk, let docker print a one-line hint (docker 26.1+): registers the
#                    hook in $DOCKER_CONFIG/config.json, keeping everything else in it
#   --no-completion  do not install the shell completion scripts
#   --uninstall      remove exactly what an earlier install added (files, config entries),
#                    restoring any completion script it had set aside
#   -h, --help       show this help
#
# Running it again is safe: it updates what is there and changes nothing else.
# What it installed is recorded in <plugin dir>/.docker-stateful.install.
set -euo pipefail

NAME=docker-stateful
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
	sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}
say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

BINARY="" ARCHIVE="" SYSTEM=0 HOOKS=0 COMPLETION=1 UNINSTALL=0
ARGS="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY="$2"; shift 2 ;;
	--binary=*) BINARY="${1#*=}"; shift ;;
	--archive) [ $# -ge 2 ] || die "--archive needs a file"; ARCHIVE="$2"; shift 2 ;;
	--archive=*) ARCHIVE="${1#*=}"; shift ;;
	--system) SYSTEM=1; shift ;;
	--hooks) HOOKS=1; shift ;;
	--no-completion) COMPLETION=0; shift ;;
	--uninstall) UNINSTALL=1; shift ;;
	-h | --help) usage 0 ;;
	*) printf 'install.sh: unknown option: %s (see ./install.sh --help)\n' "$1" >&2; exit 2 ;;
	esac
done

[ -z "$BINARY" ] || [ -z "$ARCHIVE" ] || die "--binary and --archive: give one of them"
# Temporary directories, removed on exit.
TMP_DIRS=()
cleanup() {
	local rc=$?
	[ ${#TMP_DIRS[@]} -eq 0 ] || rm -rf "${TMP_DIRS[@]}"
	exit "$rc"
}
trap cleanup EXIT

CONFIG_DIR="${DOCKER_CONFIG:-$HOME/.docker}"
CONFIG_JSON="$CONFIG_DIR/config.json"
if [ "$SYSTEM" = 1 ]; then
	PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
	BASH_DIR=/usr/local/share/bash-completion/completions
	ZSH_DIR=/usr/local/share/zsh/site-functions
	FISH_DIR=/etc/fish/completions # fish looks in /usr/local/share only when XDG_DATA_DIRS says so
else
	PLUGIN_DIR="$CONFIG_DIR/cli-plugins"
	DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
	BASH_DIR="${BASH_COMPLETION_USER_DIR:-$DATA_HOME/bash-completion}/completions"
	ZSH_DIR="$DATA_HOME/zsh/site-functions"
	FISH_DIR="${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
fi
TARGET="$PLUGIN_DIR/$NAME"
# The binary docker execs is a small front that answers completion itself
# and runs the full plugin, kept in a directory next to it (docker ignores
# directories in cli-plugins; a docker-* file there would be a plugin).
FULL_DIR="$PLUGIN_DIR/$NAME.d"
FULL_TARGET="$FULL_DIR/$NAME"
MANIFEST="$PLUGIN_DIR/.$NAME.install"

# manifest lines: "file PATH", "backup PATH" (a completion script set aside as
# PATH.before-docker-stateful), "config CONFIG.json RECORD" (see __config-hooks).
record() {
	touch "$MANIFEST"
	grep -qxF -- "$1" "$MANIFEST" || printf '%s\n' "$1" >>"$MANIFEST"
}

# make_dir DIR: mkdir -p, remembering the directories it created ("dir PATH"),
# so that --uninstall removes them again when they are empty.
CREATED_DIRS=()
make_dir() {
	local d="$1" missing=()
	while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d="$(dirname "$d")"; done
	for d in "${missing[@]}"; do
		mkdir "$d"
		CREATED_DIRS+=("$d")
		[ -f "$MANIFEST" ] && record "dir	$d"
	done
	return 0
}

need_writable() {
	local d="$1"
	while [ ! -e "$d" ]; do d="$(dirname "$d")"; done
	[ -w "$d" ] || die "cannot write to $1; $( [ "$SYSTEM" = 1 ] && echo "--system needs root: sudo $0 $ARGS" || echo "check its permissions")"
}

uninstall() {
	if [ ! -f "$MANIFEST" ]; then
		if [ -e "$TARGET" ] || [ -e "$FULL_TARGET" ]; then
			rm -f "$TARGET" "$FULL_TARGET"
			rmdir "$FULL_DIR" 2>/dev/null || true
			say "removed $TARGET and $FULL_TARGET (no install record found: nothing else touched)"
		else
			say "nothing to uninstall in $PLUGIN_DIR"
		fi
		return
	fi
	need_writable "$PLUGIN_DIR"
	# Config entries first: removing them needs the plugin binary.
	local cfgs cfg
	cfgs="$(awk -F'\t' '$1 == "config" { print $2 }' "$MANIFEST" | sort -u)"
	while IFS= read -r cfg; do
		[ -n "$cfg" ] || continue
		local recs=()
		while IFS= read -r r; do recs+=("$r"); done < <(awk -F'\t' -v c="$cfg" '$1 == "config" && $2 == c { print $3 }' "$MANIFEST")
		if [ -x "$TARGET" ] && "$TARGET" stateful __config-hooks remove "$cfg" "${recs[@]}"; then
			say "removed the stateful hooks from $cfg (kept everything else)"
		else
			say "could not edit $cfg: remove \"stateful\" under \"plugins\" (and \"hooks\" under \"features\" if you do not use it) by hand" >&2
		fi
	done <<<"$cfgs"
	local kind path
	while IFS=$'\t' read -r kind path _; do
		if [ "$kind" = file ] && { [ -e "$path" ] || [ -L "$path" ]; }; then
			rm -f "$path" && say "removed $path"
		fi
	done <"$MANIFEST"
	while IFS=$'\t' read -r kind path _; do
		if [ "$kind" = backup ] && [ -e "$path.before-$NAME" ] && [ ! -e "$path" ]; then
			mv "$path.before-$NAME" "$path" && say "restored $path"
		fi
	done <"$MANIFEST"
	local dirs
	dirs="$(awk -F'\t' '$1 == "dir" { print $2 }' "$MANIFEST" | sort -r)"
	rm -f "$MANIFEST"
	while IFS= read -r path; do
		[ -n "$path" ] && rmdir "$path" 2>/dev/null || true
	done <<<"$dirs"
	say "docker stateful uninstalled"
}

if [ "$UNINSTALL" = 1 ]; then
	uninstall
	exit 0
fi

# --- install ---------------------------------------------------------------
command -v docker >/dev/null 2>&1 ||
	die "no docker CLI found in PATH: docker stateful is a docker CLI plugin. Install Docker's CLI first (Debian/Ubuntu: apt-get install docker.io, or docker-ce-cli from Docker's repository), then run ./install.sh again"
DOCKER_VERSION="$(docker --version 2>/dev/null | sed -n 's/^Docker version \([0-9][0-9.]*\).*/\1/p')"
docker_at_least() { # MAJOR MINOR
	local maj min
	IFS=. read -r maj min _ <<<"${DOCKER_VERSION:-0.0}"
	[ "${maj:-0}" -gt "$1" ] || { [ "${maj:-0}" -eq "$1" ] && [ "${min:-0}" -ge "$2" ]; }
}

# from_archive FILE: check FILE against the SHA256SUMS next to it, unpack it
# into a temporary directory and set BINARY to the front binary in it.
from_archive() {
	local file="$1" dir base sums want got os arch
	[ -f "$file" ] || die "$file: no such archive"
	dir="$(cd "$(dirname "$file")" && pwd)" base="$(basename "$file")"
	sums="$dir/SHA256SUMS"
	if [ -f "$sums" ]; then
		want="$(awk -v f="$base" '$2 == f || $2 == "*" f { print $1 }' "$sums")"
		[ -n "$want" ] || die "$base is not listed in $sums: not a release archive of these sums"
		if command -v sha256sum >/dev/null 2>&1; then
			got="$(sha256sum "$file" | awk '{ print $1 }')"
		elif command -v shasum >/dev/null 2>&1; then
			got="$(shasum -a 256 "$file" | awk '{ print $1 }')"
		else
			die "neither sha256sum nor shasum found: cannot check $base against $sums"
		fi
		[ "$got" = "$want" ] || die "$base does not match $sums (sha256 $got, expected $want): download it again"
		say "$base: sha256 matches $sums"
	else
		say "note: no SHA256SUMS next to $base: its checksum is not verified"
	fi
	# docker-stateful_<version>_<os>_<arch>.<ext>: refuse another platform's build.
	if [[ "$base" =~ _([a-z0-9]+)_([a-z0-9]+)\.(tar\.gz|tgz|zip)$ ]]; then
		os="${BASH_REMATCH[1]}" arch="${BASH_REMATCH[2]}"
		local my_os my_arch
		case "$(uname -s)" in Linux) my_os=linux ;; Darwin) my_os=darwin ;; MINGW* | MSYS* | CYGWIN*) my_os=windows ;; *) my_os="$(uname -s)" ;; esac
		case "$(uname -m)" in x86_64 | amd64) my_arch=amd64 ;; aarch64 | arm64) my_arch=arm64 ;; *) my_arch="$(uname -m)" ;; esac
		[ "$os/$arch" = "$my_os/$my_arch" ] || die "$base is built for $os/$arch, this machine is $my_os/$my_arch: take the ${my_os}_${my_arch} archive"
	fi
	local tmp
	tmp="$(mktemp -d)"
	TMP_DIRS+=("$tmp")
	case "$base" in
	*.tar.gz | *.tgz) tar -xzf "$file" -C "$tmp" || die "$base: cannot unpack (tar -xzf failed)" ;;
	*.zip)
		command -v unzip >/dev/null 2>&1 || die "unzip is needed to unpack $base"
		unzip -q "$file" -d "$tmp" || die "$base: cannot unpack (unzip failed)" ;;
	*) die "$base: not a .tar.gz or .zip archive" ;;
	esac
	BINARY="$(find "$tmp" -maxdepth 2 -type f \( -name "$NAME" -o -name "$NAME.exe" \) ! -path "*/$NAME.d/*" | head -n 1)"
	[ -n "$BINARY" ] || die "$base holds no $NAME binary: not a release archive"
}

if [ -n "$ARCHIVE" ]; then
	from_archive "$ARCHIVE"
elif [ -z "$BINARY" ] && [ ! -f "$SRC_DIR/Makefile" ] && [ -f "$SRC_DIR/$NAME" ]; then
	BINARY="$SRC_DIR/$NAME" # install.sh of an unpacked release archive
fi
if [ -z "$BINARY" ]; then
	command -v go >/dev/null 2>&1 || die "go is needed to build $NAME (or pass --binary PATH to install a built one)"
	[ -f "$SRC_DIR/Makefile" ] || die "no Makefile in $SRC_DIR: pass --binary PATH"
	say "==> building $NAME (make build)"
	make -C "$SRC_DIR" build >/dev/null || die "make build failed"
	BINARY="$SRC_DIR/bin/$NAME"
fi
[ -f "$BINARY" ] && [ -x "$BINARY" ] || die "$BINARY: no such executable"
"$BINARY" docker-cli-plugin-metadata 2>/dev/null | grep -q '"SchemaVersion"' ||
	die "$BINARY is not a docker CLI plugin (docker-cli-plugin-metadata failed)"
FULL_BINARY="$(dirname "$BINARY")/$NAME.d/$(basename "$BINARY")"
[ -f "$FULL_BINARY" ] && [ -x "$FULL_BINARY" ] ||
	die "$BINARY has no full plugin binary next to it ($FULL_BINARY): make build builds both"
"$FULL_BINARY" docker-cli-plugin-metadata 2>/dev/null | grep -q '"SchemaVersion"' ||
	die "$FULL_BINARY is not the docker-stateful plugin (docker-cli-plugin-metadata failed)"

if [ "$HOOKS" = 1 ]; then
	# Before installing anything: a config.json we cannot merge into stops here.
	"$BINARY" stateful __config-hooks check "$CONFIG_JSON" 2>&1 | sed 's/^/install.sh: /' >&2
	[ "${PIPESTATUS[0]}" = 0 ] || exit 1
fi

need_writable "$PLUGIN_DIR"
make_dir "$PLUGIN_DIR"
make_dir "$FULL_DIR"
for d in "${CREATED_DIRS[@]}"; do record "dir	$d"; done

# install_binary SRC DEST: copy (atomically) unless identical.
install_binary() {
	local src="$1" dest="$2" tmp
	if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
		say "$dest is up to date"
	else
		tmp="$(mktemp "$(dirname "$dest")/.$NAME.XXXXXX")"
		cp "$src" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$dest"
		say "installed $dest"
	fi
	record "file	$dest"
}
# The full binary first: the front never runs without it.
install_binary "$FULL_BINARY" "$FULL_TARGET"
install_binary "$BINARY" "$TARGET"

# install_file SRC DEST: copy unless identical; set aside a file that is not ours.
install_file() {
	local src="$1" dest="$2"
	need_writable "$(dirname "$dest")"
	make_dir "$(dirname "$dest")"
	if [ -e "$dest" ] && cmp -s "$src" "$dest"; then
		record "file	$dest"
		return 1
	fi
	if [ -e "$dest" ] && ! grep -qxF "file	$dest" "$MANIFEST" && [ ! -e "$dest.before-$NAME" ]; then
		mv "$dest" "$dest.before-$NAME"
		record "backup	$dest"
		say "set aside $dest as $dest.before-$NAME (restored by --uninstall)"
	fi
	cp "$src" "$dest.tmp.$$" && chmod 0644 "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
	record "file	$dest"
}

if [ "$COMPLETION" = 1 ]; then
	gen="$(mktemp -d)"
	TMP_DIRS+=("$gen")
	for sh in bash zsh fish; do
		case "$sh" in
		bash) src=completion/bash/docker dest="$BASH_DIR/docker" ;;
		zsh) src=completion/zsh/_docker dest="$ZSH_DIR/_docker" ;;
		fish) src=completion/fish/docker.fish dest="$FISH_DIR/docker.fish" ;;
		esac
		# Only for the shells this machine has (bash always gets it).
		[ "$sh" = bash ] || command -v "$sh" >/dev/null 2>&1 || continue
		if [ ! -f "$SRC_DIR/$src" ]; then
			# Not in a source tree: the binary prints the same scripts.
			mkdir -p "$gen/$(dirname "$src")"
			DOCKER_CONFIG="$gen" "$TARGET" completion "$sh" >"$gen/$src" 2>/dev/null || continue
			src="$gen/$src"
		else
			src="$SRC_DIR/$src"
		fi
		if install_file "$src" "$dest"; then say "installed $sh completion: $dest"; else say "$sh completion is up to date: $dest"; fi
	done
fi

if [ "$HOOKS" = 1 ]; then
	if ! docker_at_least 26 1; then
		say "note: docker ${DOCKER_VERSION:-?} runs no plugin hooks (docker 26.1 or later does); registering them anyway"
	fi
	make_dir "$CONFIG_DIR"
	recs="$("$TARGET" stateful __config-hooks add "$CONFIG_JSON")" || die "could not register the hooks in $CONFIG_JSON"
	if [ -z "$recs" ]; then
		say "hooks already registered in $CONFIG_JSON"
	else
		while IFS= read -r r; do record "config	$CONFIG_JSON	$r"; done <<<"$recs"
		say "registered the stateful hooks in $CONFIG_JSON (other settings kept)"
	fi
fi

# --- check and say what is next ----------------------------------------------
if docker stateful --help >/dev/null 2>&1; then
	say ""
	say "docker stateful is installed: try 'docker stateful --help'"
else
	say ""
	say "installed, but 'docker stateful' does not run yet: docker looks in \$DOCKER_CONFIG/cli-plugins (now ${DOCKER_CONFIG:-unset}), ~/.docker/cli-plugins and /usr/local/lib/docker/cli-plugins" >&2
fi
if [ "$COMPLETION" = 1 ]; then
	say ""
	say "Shell completion (these are docker's own cobra scripts: they complete every docker command,"
	say "and 'docker stateful' through docker 26 or later${DOCKER_VERSION:+; this docker is $DOCKER_VERSION}):"
	if [ -f /usr/share/bash-completion/bash_completion ]; then
		say "  bash: open a new shell"
	else
		say "  bash: install bash-completion (apt-get install bash-completion), then open a new shell"
	fi
	if command -v zsh >/dev/null 2>&1; then
		if [ "$SYSTEM" = 1 ]; then
			say "  zsh:  make sure ~/.zshrc runs 'autoload -Uz compinit && compinit', then open a new shell"
		else
			say "  zsh:  add to ~/.zshrc, before compinit: fpath=($ZSH_DIR \$fpath); autoload -Uz compinit && compinit"
		fi
	fi
	command -v fish >/dev/null 2>&1 && say "  fish: open a new shell"
	say "  PowerShell: docker completion powershell | Out-String | Invoke-Expression  (add it to \$PROFILE)"
	if ! docker_at_least 26 0; then
		say "  note: docker ${DOCKER_VERSION:-?} does not forward completion to plugins; 'docker stateful' completes with docker 26+"
	fi
fi
if [ "$HOOKS" = 1 ]; then
	say ""
	say "Hints: after a plain 'docker service update' or 'create' in a terminal, docker prints a one-line"
	say "hint when the service's data is at risk. Remove them with: ./install.sh --uninstall$( [ "$SYSTEM" = 1 ] && echo ' --system')"
fi
