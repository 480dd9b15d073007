#!/bin/sh
# Writes an nginx configuration from nginx.conf.example.
# usage: scripts/nginx-conf.sh ROOT VAR PORT SOCKET MAX_BODY OUTPUT
set -eu
[ $# -eq 6 ] || { echo "usage: $0 ROOT VAR PORT SOCKET MAX_BODY OUTPUT" >&2; exit 2; }
root=$1 var=$2 port=$3 socket=$4 max_body=$5 out=$6
# nginx workers run as the invoking user, so they reach a socket and a tree that may sit in
# a directory only that user can enter (a fresh clone in a mktemp directory).
user=$(id -un)
group=$(id -gn)
mkdir -p "$var/nginx-tmp"
sed -e "s|@ROOT@|$root|g" -e "s|@VAR@|$var|g" -e "s|@PORT@|$port|g" \
    -e "s|@SOCKET@|$socket|g" -e "s|@MAX_BODY@|$max_body|g" -e "s|@USER@|$user $group|g" \
    "$root/nginx.conf.example" > "$out"
