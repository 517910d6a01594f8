#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by the PACS tests and benchmark: a throwaway Orthanc (Debian's `orthanc` package) on
# loopback with its own free DICOM and HTTP ports, storage folder and AE title, which knows our
# AE title (HEPASCOPE) as a modality at $our_port (for C-MOVE) and nobody else; stopped by
# orthanc_stop (callers trap it on EXIT).
#   orthanc_start DIR   sets orthanc_pid, orthanc_port, orthanc_aet, orthanc_node, our_port

free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

orthanc_start () {
  local dir="$1"
  orthanc_aet="HEPATEST"
  orthanc_port=$(free_port)
  local http_port
  http_port=$(free_port)
  our_port=$(free_port)
  mkdir -p "$dir/storage"
  cat >"$dir/orthanc.json" <<EOF
{
  "Name": "hepascope-test",
  "StorageDirectory": "$dir/storage",
  "IndexDirectory": "$dir/storage",
  "StorageCompression": false,
  "HttpServerEnabled": true,
  "HttpPort": $http_port,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomServerEnabled": true,
  "DicomAet": "$orthanc_aet",
  "DicomPort": $orthanc_port,
  "DicomCheckCalledAet": true,
  "DicomCheckModalityHost": false,
  "DicomAlwaysAllowEcho": false,
  "DicomAlwaysAllowStore": false,
  "DicomAlwaysAllowFind": false,
  "DicomAlwaysAllowGet": false,
  "DicomAlwaysAllowMove": false,
  "DicomModalities": { "hepascope": [ "HEPASCOPE", "127.0.0.1", $our_port ] },
  "Plugins": []
}
EOF
  Orthanc "$dir/orthanc.json" >"$dir/orthanc.log" 2>&1 &
  orthanc_pid=$!
  orthanc_node="$orthanc_aet@127.0.0.1:$orthanc_port"
  # Up when it answers a C-ECHO (30 s at most).
  for _ in $(seq 1 60); do
    if "$HEPASCOPE_CLI" pacs echo --node "$orthanc_node" --timeout 2 >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$orthanc_pid" 2>/dev/null; then
      echo "# Orthanc exited: $(tail -n 3 "$dir/orthanc.log" | tr '\n' ' ')"
      return 1
    fi
    sleep 0.5
  done
  echo "# Orthanc did not answer within 30 s"
  return 1
}

orthanc_stop () {
  if [[ -n "${orthanc_pid:-}" ]] && kill -0 "$orthanc_pid" 2>/dev/null; then
    kill "$orthanc_pid" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$orthanc_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$orthanc_pid" 2>/dev/null || true
    wait "$orthanc_pid" 2>/dev/null || true
  fi
  orthanc_pid=
}

# Phantoms of one study from one patient (synth gives each phantom its own patient ID).
make_study () {
  local out="$1" per_class="$2" seed="$3"
  "$HEPASCOPE_CLI" synth --out "$out" --per-class "$per_class" --seed "$seed" >/dev/null 2>&1 || return 1
  dcmodify -nb -m "PatientID=PHANTOM-$seed" -m "PatientName=Phantom^Study$seed" "$out"/*.dcm >/dev/null
}

sop_uid () {
  dcmdump -s +P 0008,0018 "$1" | sed -n 's/.*\[\(.*\)\].*/\1/p' | head -n 1
}
