#define _GNU_SOURCE
#include "cdataplane.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int tun_open_flags(const char *name, char *out_name, size_t out_len, short flags) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = flags;
    if (name && name[0]) strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { int e = errno; close(fd); return -e; }
    if (out_name && out_len) { strncpy(out_name, ifr.ifr_name, out_len - 1); out_name[out_len - 1] = 0; }
    return fd;
}

int vpngw_tun_open(const char *name, char *out_name, size_t out_len) {
    return tun_open_flags(name, out_name, out_len, IFF_TUN | IFF_NO_PI);
}

int vpngw_if_set_mtu_up(const char *name, int mtu) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) { int e = errno; close(s); return -e; }
    // A TUN's default queue (500) overflows under bursts while the reader seals a batch;
    // each overflow is a TCP loss. 4096 absorbs a few batches.
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    ifr.ifr_qlen = 4096;
    (void)ioctl(s, SIOCSIFTXQLEN, &ifr);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { int e = errno; close(s); return -e; }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { int e = errno; close(s); return -e; }
    close(s);
    return 0;
}

// Socket buffers of `bytes` each way. *BUFFORCE needs CAP_NET_ADMIN; fall back to the capped variant.
static void set_buffers(int fd, int bytes) {
    if (bytes <= 0) return;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

int vpngw_udp4_socket(uint32_t addr_be, uint16_t port, int buffer_bytes) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    set_buffers(fd, buffer_bytes);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = addr_be;
    sa.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

#define VPNGW_MAX_BATCH 64

// The plain batch is the GRO batch without its segment sizes (one receive path to keep right).
int vpngw_udp_recv_batch(int fd, vpngw_datagram *slots, int count, int timeout_ms) {
    if (count > VPNGW_MAX_BATCH) count = VPNGW_MAX_BATCH;
    vpngw_gro_datagram g[VPNGW_MAX_BATCH];
    for (int i = 0; i < count; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].data = slots[i].data;
        g[i].capacity = slots[i].capacity;
    }
    int n = vpngw_udp_recv_gro_batch(fd, g, count, timeout_ms);
    for (int i = 0; i < n; i++) {
        slots[i].length = g[i].length;
        slots[i].addr_be = g[i].addr_be;
        slots[i].port = g[i].port;
    }
    return n;
}

int vpngw_udp_send_batch(int fd, vpngw_datagram *slots, int count) {
    if (count > VPNGW_MAX_BATCH) count = VPNGW_MAX_BATCH;
    struct mmsghdr msgs[VPNGW_MAX_BATCH];
    struct iovec iov[VPNGW_MAX_BATCH];
    struct sockaddr_in to[VPNGW_MAX_BATCH];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = slots[i].data;
        iov[i].iov_len = slots[i].length;
        memset(&to[i], 0, sizeof to[i]);
        to[i].sin_family = AF_INET;
        to[i].sin_addr.s_addr = slots[i].addr_be;
        to[i].sin_port = htons(slots[i].port);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to[i];
        msgs[i].msg_hdr.msg_namelen = sizeof to[i];
    }
    int sent = 0;
    while (sent < count) {
        int n = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sent > 0 ? sent : -errno;
        }
        sent += n;
    }
    return sent;
}

int vpngw_wait_readable(int fd, int timeout_ms) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) return -errno;
    return r > 0 ? 1 : 0;
}

int vpngw_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

// MARK: Offloads

#include <netinet/udp.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

int vpngw_tun_open_offload(const char *name, char *out_name, size_t out_len) {
    int fd = tun_open_flags(name, out_name, out_len, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
    if (fd < 0) return fd;
    int hdr = 10;  // sizeof(struct virtio_net_hdr), the default; set explicitly.
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) { int e = errno; close(fd); return -e; }
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN)) < 0) {
        int e = errno; close(fd); return -e;
    }
    return fd;
}

int vpngw_udp_enable_gro(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0 ? -errno : 0;
}

int vpngw_udp_gso_supported(int fd) {
    int v = 0;
    socklen_t l = sizeof v;
    return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &l) == 0 ? 1 : 0;
}

#define VPNGW_MAX_SPANS 4096

int vpngw_udp_send_gso_batch(int fd, const vpngw_gso_message *messages, int count, const vpngw_span *spans) {
    if (count > VPNGW_MAX_BATCH) count = VPNGW_MAX_BATCH;
    struct mmsghdr msgs[VPNGW_MAX_BATCH];
    struct sockaddr_in to[VPNGW_MAX_BATCH];
    union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control[VPNGW_MAX_BATCH];
    static __thread struct iovec iov[VPNGW_MAX_SPANS];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        const vpngw_gso_message *m = &messages[i];
        if (m->first_span + m->span_count > VPNGW_MAX_SPANS) return -EINVAL;
        for (uint32_t s = 0; s < m->span_count; s++) {
            iov[m->first_span + s].iov_base = spans[m->first_span + s].data;
            iov[m->first_span + s].iov_len = spans[m->first_span + s].length;
        }
        memset(&to[i], 0, sizeof to[i]);
        to[i].sin_family = AF_INET;
        to[i].sin_addr.s_addr = m->addr_be;
        to[i].sin_port = htons(m->port);
        msgs[i].msg_hdr.msg_iov = &iov[m->first_span];
        msgs[i].msg_hdr.msg_iovlen = m->span_count;
        msgs[i].msg_hdr.msg_name = &to[i];
        msgs[i].msg_hdr.msg_namelen = sizeof to[i];
        if (m->segment_size > 0) {
            memset(control[i].buf, 0, sizeof control[i].buf);
            msgs[i].msg_hdr.msg_control = control[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof control[i].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t size = m->segment_size;
            memcpy(CMSG_DATA(c), &size, sizeof size);
        }
    }
    int sent = 0;
    while (sent < count) {
        int n = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sent > 0 ? sent : -errno;
        }
        sent += n;
    }
    return sent;
}

int vpngw_udp_recv_gro_batch(int fd, vpngw_gro_datagram *slots, int count, int timeout_ms) {
    if (count > VPNGW_MAX_BATCH) count = VPNGW_MAX_BATCH;
    if (timeout_ms >= 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, timeout_ms);
        if (r < 0) return -errno;
        if (r == 0) return 0;
    }
    struct mmsghdr msgs[VPNGW_MAX_BATCH];
    struct iovec iov[VPNGW_MAX_BATCH];
    struct sockaddr_in from[VPNGW_MAX_BATCH];
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control[VPNGW_MAX_BATCH];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = slots[i].data;
        iov[i].iov_len = slots[i].capacity;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_control = control[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof control[i].buf;
    }
    int n = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT, NULL);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        slots[i].length = msgs[i].msg_len;
        slots[i].addr_be = from[i].sin_addr.s_addr;
        slots[i].port = ntohs(from[i].sin_port);
        slots[i].segment_size = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                int size = 0;
                memcpy(&size, CMSG_DATA(c), sizeof size);
                if (size > 0 && (uint32_t)size < slots[i].length) slots[i].segment_size = (uint16_t)size;
            }
        }
    }
    return n;
}

int vpngw_raw_esp_socket(uint32_t addr_be, int buffer_bytes) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ESP);
    if (fd < 0) return -errno;
    set_buffers(fd, buffer_bytes);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = addr_be;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { int e = errno; close(fd); return -e; }
    return fd;
}

int vpngw_wait_readable2(int fd1, int fd2, int timeout_ms) {
    struct pollfd p[2] = { { .fd = fd1, .events = POLLIN }, { .fd = fd2, .events = POLLIN } };
    int r = poll(p, fd2 >= 0 ? 2 : 1, timeout_ms);
    if (r < 0) return -errno;
    int mask = 0;
    if (p[0].revents & (POLLIN | POLLERR)) mask |= 1;
    if (fd2 >= 0 && (p[1].revents & (POLLIN | POLLERR))) mask |= 2;
    return mask;
}

#include <sys/prctl.h>
void vpngw_set_thread_name(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }
