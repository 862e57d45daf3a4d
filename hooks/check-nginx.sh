#!/bin/sh
# check-nginx.sh: refuse a push whose nginx configuration `nginx -t` fails.
#
# labforge runs a check in a read-only folder holding exactly the pushed commit's files. This
# script copies the configuration into a scratch prefix under /tmp and runs `nginx -t` there, so
# nothing of the machine's own nginx is read or written.
#
# Usage:   check-nginx.sh [CONF | FOLDER]
#   CONF     the main configuration file in the repository (one with `events` and `http`):
#            tested whole, with its includes. The default is nginx.conf when the commit has one.
#   FOLDER   (or no argument and no nginx.conf) every *.conf under it is a file of `server`
#            blocks (sites-enabled style), tested inside a generated `http {}`.
#
# Written for the test, in the scratch copy only (the commit is never changed):
#   - /etc/nginx/... paths point into the copy, so a repository that mirrors /etc/nginx works;
#   - pid, error_log (to stderr), access_log (off) and the *_temp_path folders go to /tmp;
#   - `listen` binds every address (a check has only its own loopback) and ports below 1000
#     become 20000 + port (a check is not root): 80 is tested as 20080, [::]:443 as [::]:20443;
#   - ssl_certificate, ssl_certificate_key, ssl_trusted_certificate and ssl_client_certificate
#     point at a throwaway self-signed pair (made with openssl), since the real certificates are
#     not visible to a check and should not be.
# Files the configuration includes from the host's /etc/nginx (mime.types, proxy_params,
# snippets/...) are taken from there when visible (sandbox = false); in the sandbox keep copies
# in the repository, or nginx -t says which one it could not open.
#
# Exit status: 0 the configuration is valid; 1 nginx -t refused it; 2 no configuration found;
# 127 nginx is not installed (Debian: nginx or nginx-light).
#
#   [[check]]
#   name = "nginx"
#   repo = "lab/proxy"
#   branch = "main"
#   run = "hooks/check-nginx.sh"
#   args = ["nginx.conf"]
set -eu

say() { printf 'check-nginx: %s\n' "$*"; }
fail() {
	code=$1
	shift
	printf 'check-nginx: error: %s\n' "$*"
	exit "$code"
}

command -v nginx >/dev/null 2>&1 ||
	fail 127 "nginx is not installed here (PATH=$PATH); install nginx or nginx-light (Debian)"

target=${1:-}
if [ -z "$target" ]; then
	if [ -f nginx.conf ]; then target=nginx.conf; else target=.; fi
fi
[ -e "$target" ] || fail 2 "the pushed commit has no '$target'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-nginx.XXXXXX")
conf=$tmp/conf
mkdir -p "$conf"

if [ -f "$target" ]; then
	mode=whole
	cp -R "$(dirname "$target")/." "$conf/"
	main=$conf/$(basename "$target")
else
	mode=sites
	cp -R "$target/." "$conf/sites"
	{
		printf 'events {}\nhttp {\n'
		find "$conf/sites" -type f -name '*.conf' ! -name nginx.conf | sort | sed 's/.*/    include &;/'
		printf '}\n'
	} >"$tmp/nginx.conf"
	grep -q include "$tmp/nginx.conf" || fail 2 "no *.conf files under '$target'"
	main=$tmp/nginx.conf
fi

cert= key=
if command -v openssl >/dev/null 2>&1; then
	cert=$tmp/selfsigned.crt key=$tmp/selfsigned.key
	# Its own minimal openssl.cnf: the system's (/etc/ssl) is not visible in the sandbox.
	printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$tmp/selfsigned.cnf"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=check-nginx -config "$tmp/selfsigned.cnf" \
		-keyout "$key" -out "$cert" >/dev/null 2>&1 || cert= key=
fi

temps="access_log off; client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy; fastcgi_temp_path $tmp/fastcgi; uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;"
find "$tmp" -type f ! -name 'selfsigned.*' |
	while IFS= read -r f; do
		# A directive starts a line or follows `;` or `{` (one-line server blocks).
		d='\(^\|[;{]\)\([[:space:]]*\)'
		sed -i \
			-e "s#/etc/nginx/#$conf/#g" \
			-e "s#${d}pid[[:space:]][^;]*;#\1\2pid $tmp/nginx.pid;#g" \
			-e "s#${d}error_log[[:space:]]\{1,\}[^[:space:];]\{1,\}#\1\2error_log stderr#g" \
			-e "s#${d}access_log[[:space:]][^;]*;#\1\2access_log off;#g" \
			-e "s#${d}\(client_body\|proxy\|fastcgi\|uwsgi\|scgi\)_temp_path[[:space:]][^;]*;#\1\2#g" \
			-e "s#${d}http[[:space:]]*{#\1\2http { $temps#g" \
			-e "s#${d}listen[[:space:]]\{1,\}unix:[^[:space:];]*#\1\2listen unix:$tmp/listen.sock#g" \
			-e "s#${d}listen[[:space:]]\{1,\}\[[^]]*\]:#\1\2listen [::]:#g" \
			-e "s#${d}listen[[:space:]]\{1,\}[^[:space:];:[]*:\([0-9]\)#\1\2listen \3#g" \
			-e "s#${d}listen[[:space:]]\{1,\}\(\[::\]:\)\{0,1\}\([0-9][0-9][0-9]\)\([;[:space:]]\)#\1\2listen \320\4\5#g" \
			-e "s#${d}listen[[:space:]]\{1,\}\(\[::\]:\)\{0,1\}\([0-9][0-9]\)\([;[:space:]]\)#\1\2listen \3200\4\5#g" \
			-e "s#${d}listen[[:space:]]\{1,\}\(\[::\]:\)\{0,1\}\([0-9]\)\([;[:space:]]\)#\1\2listen \32000\4\5#g" \
			"$f"
		if [ -n "$cert" ]; then
			sed -i \
				-e "s#${d}\(ssl_certificate\|ssl_trusted_certificate\|ssl_client_certificate\)[[:space:]][^;]*;#\1\2\3 $cert;#g" \
				-e "s#${d}ssl_certificate_key[[:space:]][^;]*;#\1\2ssl_certificate_key $key;#g" \
				"$f"
		fi
	done

# Relative includes the copy lacks, from the host's /etc/nginx when it is visible.
find "$tmp" -type f ! -name 'selfsigned.*' -exec grep -ho '^[[:space:]]*include[[:space:]]\{1,\}[^;*]*;' {} + 2>/dev/null |
	sed 's/^[[:space:]]*include[[:space:]]*//; s/;$//' | while IFS= read -r inc; do
	case $inc in /*) continue ;; esac
	if [ ! -e "$conf/$inc" ] && [ -f "/etc/nginx/$inc" ]; then
		mkdir -p "$(dirname "$conf/$inc")"
		cp "/etc/nginx/$inc" "$conf/$inc"
	fi
done

set -- -t -p "$tmp/" -c "$main" -e stderr
grep -q '^[[:space:]]*pid[[:space:]]' "$main" || set -- "$@" -g "pid $tmp/nginx.pid;"
say "$(printf '%s %.10s' "${LABFORGE_REF:-}" "${LABFORGE_NEW:-}"): nginx -t of $target ($mode)"
status=0
nginx "$@" >"$tmp/out" 2>&1 || status=$?
# Paths as the repository names them, not the scratch copy's.
sed "s#$conf/##g; s#$tmp/##g" "$tmp/out"
rm -rf "$tmp"
[ "$status" = 0 ] || fail 1 "nginx -t refused the configuration"
say "the configuration is valid"
