#ifndef VPNGW_CDATAPLANE_H
#define VPNGW_CDATAPLANE_H
// Thin syscall shims for the data plane: things Swift cannot call directly (ioctl is variadic,
// recvmmsg/sendmmsg need _GNU_SOURCE) and nothing else. No policy lives here.
#include <stdint.h>
#include <stddef.h>

/// Opens /dev/net/tun as an IFF_TUN|IFF_NO_PI device named `name` (or a kernel-chosen name when
/// empty); writes the actual name (IFNAMSIZ) to `out_name`. Returns the fd or -errno.
int vpngw_tun_open(const char *name, char *out_name, size_t out_len);

/// Sets MTU and brings the interface up (SIOCSIFMTU, SIOCSIFFLAGS). Returns 0 or -errno.
int vpngw_if_set_mtu_up(const char *name, int mtu);

/// A UDP/IPv4 socket bound to addr:port (network byte order addr), with SO_RCVBUF/SO_SNDBUF
/// forced to `buffer_bytes`. Returns the fd or -errno.
int vpngw_udp4_socket(uint32_t addr_be, uint16_t port, int buffer_bytes);

/// One datagram slot of a batch: the caller owns `data`.
typedef struct {
    uint8_t *data;       // start of the datagram in the caller's buffer
    uint32_t capacity;   // bytes available at data (receive)
    uint32_t length;     // datagram length (in: to send; out: received)
    uint32_t addr_be;    // peer IPv4 address, network byte order
    uint16_t port;       // peer port, host byte order
} vpngw_datagram;

/// recvmmsg into up to `count` slots; blocks at most timeout_ms (-1 forever). Returns the number
/// received, 0 on timeout, or -errno.
int vpngw_udp_recv_batch(int fd, vpngw_datagram *slots, int count, int timeout_ms);

/// sendmmsg of `count` slots. Returns the number sent or -errno.
int vpngw_udp_send_batch(int fd, vpngw_datagram *slots, int count);

/// poll() for readability of one fd. Returns 1 readable, 0 timeout, -errno.
int vpngw_wait_readable(int fd, int timeout_ms);

/// Non-blocking flag on/off.
int vpngw_set_nonblocking(int fd, int on);

#endif
