# shellcheck shell=bash
# strongSwan 5.9.8 in a namespace with userspace ESP (kernel-libipsec: this kernel has no ESP).
# Each charon gets a private /run (bind mount inside `ip netns exec`'s own mount namespace), its
# own strongswan.conf and vici socket.
CHARON=/usr/lib/ipsec/charon

have_strongswan() { [ -x "$CHARON" ] && command -v swanctl >/dev/null && [ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ]; }

# ss_conf NAME — writes $WORK/ss-NAME/strongswan.conf
ss_conf() {
  local d="$WORK/ss-$1"
  mkdir -p "$d/run"
  (cd "$d" && mkdir -p x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12)
  cat > "$d/strongswan.conf" <<EOC
charon {
  load_modular = no
  load = openssl random nonce pem pkcs1 x509 pubkey aes sha1 sha2 hmac kdf gcm chapoly curve25519 kernel-libipsec kernel-netlink socket-default vici updown
  install_virtual_ip = no
  retransmit_timeout = 1
  retransmit_tries = 3
  filelog {
    log { path = $d/charon.log
          time_format = %T
          ike_name = yes
          default = 1
          flush_line = yes }
  }
  plugins {
    vici { socket = unix://$d/charon.vici }
    kernel-netlink { roam_events = no }
  }
}
swanctl { load = pem pkcs1 x509 pubkey openssl random nonce }
EOC
}

# ss_start NAME NS — starts charon in namespace NS
ss_start() {
  local d="$WORK/ss-$1" n="$2"
  rm -f "$d/charon.vici"
  STRONGSWAN_CONF="$d/strongswan.conf" ip netns exec "$(ns "$n")" sh -c "mount --bind '$d/run' /run && exec $CHARON" > "$d/charon.stdout" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -S "$d/charon.vici" ] && return 0; sleep 0.05; done
  cat "$d/charon.stdout" "$d/charon.log" >&2
  return 1
}

# sw NAME swanctl-args...
sw() { local d="$WORK/ss-$1" cmd="$2"; shift 2; STRONGSWAN_CONF="$d/strongswan.conf" swanctl "$cmd" --uri "unix://$d/charon.vici" "$@"; }

# ss_s2s NAME local remote local_ts remote_ts ike_proposals esp_proposals psk [start_action]
# (env: SS_DPD_DELAY SS_IKE_REKEY SS_CHILD_REKEY SS_DPD_ACTION; SS_CHILD_EXTRA / SS_CONN_EXTRA: more lines for the child / the connection, e.g. "rekey_bytes = 4194304", "encap = yes")
ss_s2s() {
  local d="$WORK/ss-$1"
  cat > "$d/swanctl.conf" <<EOC
connections {
  s2s {
    version = 2
    mobike = no
    local_addrs = $2
    remote_addrs = $3
    proposals = $6
    dpd_delay = ${SS_DPD_DELAY:-0}
    rekey_time = ${SS_IKE_REKEY:-4h}
    ${SS_CONN_EXTRA:-}
    local { auth = psk
            id = $2 }
    remote { auth = psk
             id = $3 }
    children {
      net {
        local_ts = $4
        remote_ts = $5
        esp_proposals = $7
        mode = tunnel
        start_action = ${9:-none}
        rekey_time = ${SS_CHILD_REKEY:-1h}
        dpd_action = ${SS_DPD_ACTION:-clear}
        ${SS_CHILD_EXTRA:-}
      }
    }
  }
}
secrets {
  ike-s2s { id-a = $2
            id-b = $3
            secret = "$8" }
}
EOC
  sw "$1" --load-all --file "$d/swanctl.conf" >/dev/null
}
