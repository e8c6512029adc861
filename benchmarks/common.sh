# Shared by the end-to-end benchmark scripts (source it): builds what they run and gives them
# loopback ports and a way to wait for a server. Expects $root, the repository's top folder.

# Installs what is missing and builds metricsgate and the load tool into build/.
build_bench_tools() {
  "$root/scripts/install-deps.sh"
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build" --target metricsgate statsd_load -j "$(nproc)" >/dev/null
}

# Installs, with apt-get, those of the Debian packages named that are not installed.
install_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  (( ${#missing[@]} == 0 )) && return 0
  local sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Prints a TCP port on 127.0.0.1 that is free now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until something listens on TCP port $1 of 127.0.0.1 (at most 10 s), or exits.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  exit 1
}
