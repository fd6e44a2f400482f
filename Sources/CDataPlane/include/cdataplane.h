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


// MARK: Offloads (TUN TSO/GRO via virtio_net_hdr, UDP GSO/GRO)

/// Like vpngw_tun_open, plus IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO_ECN):
/// every read and write then starts with a 10-byte virtio_net_hdr and reads may be TCP
/// super-packets up to 64 KiB. Returns the fd or -errno.
int vpngw_tun_open_offload(const char *name, char *out_name, size_t out_len);

/// Turns on UDP_GRO (receive coalescing, Linux 5.0) on a socket. Returns 0 or -errno.
int vpngw_udp_enable_gro(int fd);

/// 1 if the kernel accepts UDP_SEGMENT (send segmentation, Linux 4.18) on this socket, else 0.
int vpngw_udp_gso_supported(int fd);

/// A byte range in the caller's memory.
typedef struct {
    uint8_t *data;
    uint32_t length;
} vpngw_span;

/// One sendmsg of a batch: `span_count` spans starting at `first_span` go to one peer; with
/// segment_size > 0 the kernel splits their concatenation into datagrams of segment_size bytes
/// (the last may be shorter) — all spans but the last must then be exactly segment_size long.
typedef struct {
    uint32_t addr_be;
    uint16_t port;          // host byte order
    uint16_t segment_size;  // 0: the spans form one datagram
    uint32_t first_span;
    uint32_t span_count;
} vpngw_gso_message;

/// sendmmsg of `count` messages (UDP_SEGMENT cmsg where segment_size > 0). Returns the number of
/// messages sent or -errno.
int vpngw_udp_send_gso_batch(int fd, const vpngw_gso_message *messages, int count, const vpngw_span *spans);

/// A receive slot that may hold several coalesced datagrams (UDP_GRO).
typedef struct {
    uint8_t *data;
    uint32_t capacity;
    uint32_t length;
    uint32_t addr_be;
    uint16_t port;          // host byte order
    uint16_t segment_size;  // 0: one datagram; else datagrams of this size, the last maybe shorter
} vpngw_gro_datagram;

/// recvmmsg with UDP_GRO control messages; blocks at most timeout_ms. Returns the number of
/// slots filled, 0 on timeout, or -errno.
int vpngw_udp_recv_gro_batch(int fd, vpngw_gro_datagram *slots, int count, int timeout_ms);

/// A raw IPv4 socket for IP protocol 50 (RFC 4303 ESP without UDP) bound to addr (network
/// order). Received datagrams start with the IPv4 header. Needs CAP_NET_RAW. fd or -errno.
int vpngw_raw_esp_socket(uint32_t addr_be, int buffer_bytes);

/// poll() two fds (fd2 may be -1); returns a bitmask (1: fd1, 2: fd2) of readable ones, 0 on
/// timeout, or -errno.
int vpngw_wait_readable2(int fd1, int fd2, int timeout_ms);

/// Names the calling thread (PR_SET_NAME, 15 characters) so top/perf show which loop is busy.
void vpngw_set_thread_name(const char *name);

#endif
