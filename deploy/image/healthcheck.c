/*
 * The image's health check: a static binary of a few hundred kilobytes, so a
 * check costs no second Node.js runtime (about 40 MB and 50 ms of CPU each).
 *
 *   /app/healthcheck [ADDRESS]
 *
 * ADDRESS is host:port, [v6]:port or :port; by default the exporter's own
 * --web.listen-address, read from PID 1's command line (the exporter in its
 * container), else :9477. An empty or wildcard host means the loopback.
 *
 * It sends "GET /healthz" and exits 0 when the exporter answers: an HTTP status
 * below 500 (a 401 of basic auth and a 429 of the rate limit are answers), or,
 * on a port that speaks TLS, a TLS alert or the connection closed on the
 * plaintext request (the server read it and refused it). It exits 1 when the
 * connection is refused (no listener), when nothing answers within 3 s (a
 * process that accepts but does not run), or on a 5xx.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_LISTEN ":9477"
#define FLAG "--web.listen-address"

static char cmdline[65536];

/* The value of --web.listen-address on PID 1's command line, or NULL. */
static const char *listen_of_pid1(void) {
  int fd = open("/proc/1/cmdline", O_RDONLY);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
  close(fd);
  if (n <= 0) return NULL;
  cmdline[n] = '\0';
  const char *found = NULL;
  for (char *a = cmdline; a < cmdline + n; a += strlen(a) + 1) {
    if (strncmp(a, FLAG "=", sizeof FLAG) == 0) found = a + sizeof FLAG;
    else if (strcmp(a, FLAG) == 0 && a + strlen(a) + 1 < cmdline + n) found = a + strlen(a) + 1;
  }
  return found;
}

int main(int argc, char **argv) {
  const char *listen = argc > 1 ? argv[1] : listen_of_pid1();
  if (!listen || !*listen) listen = DEFAULT_LISTEN;
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon) { fprintf(stderr, "healthcheck: no port in %s\n", listen); return 1; }
  size_t hl = (size_t)(colon - listen);
  if (hl >= sizeof host) return 1;
  memcpy(host, listen, hl);
  host[hl] = '\0';
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { memmove(host, host + 1, hl - 2); host[hl - 2] = '\0'; }
  int port = atoi(colon + 1);
  if (port <= 0 || port > 65535) { fprintf(stderr, "healthcheck: bad port in %s\n", listen); return 1; }

  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) strcpy(host, "127.0.0.1");
  else if (strcmp(host, "::") == 0) strcpy(host, "::1");
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET; v4->sin_port = htons((unsigned short)port); len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6; v6->sin6_port = htons((unsigned short)port); len = sizeof *v6;
  } else {
    /* a host name: the exporter listens on this container's addresses, try the loopback */
    v4->sin_family = AF_INET; v4->sin_port = htons((unsigned short)port); len = sizeof *v4;
    inet_pton(AF_INET, "127.0.0.1", &v4->sin_addr);
  }

  int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) { perror("healthcheck: socket"); return 1; }
  struct timeval tv = { .tv_sec = 3, .tv_usec = 0 };
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(s, (struct sockaddr *)&ss, len) < 0) { fprintf(stderr, "healthcheck: connect %s: %s\n", listen, strerror(errno)); return 1; }
  static const char req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\nUser-Agent: swarmnet-healthcheck\r\n\r\n";
  if (send(s, req, sizeof req - 1, MSG_NOSIGNAL) < 0) { fprintf(stderr, "healthcheck: send: %s\n", strerror(errno)); return 1; }
  char buf[64];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    ssize_t n = recv(s, buf + got, sizeof buf - 1 - got, 0);
    if (n > 0) { got += (size_t)n; if (memchr(buf, '\n', got)) break; continue; }
    if (n == 0 || errno == ECONNRESET) break;
    if (errno == EINTR) continue;
    fprintf(stderr, "healthcheck: no answer from %s: %s\n", listen, strerror(errno));
    return 1;
  }
  close(s);
  buf[got] = '\0';
  if (got == 0) { printf("alive: connection closed on a plaintext request (TLS)\n"); return 0; }
  if ((unsigned char)buf[0] == 0x15) { printf("alive: TLS alert\n"); return 0; }
  int status = 0;
  if (sscanf(buf, "HTTP/%*d.%*d %d", &status) == 1) {
    printf("HTTP %d\n", status);
    return status > 0 && status < 500 ? 0 : 1;
  }
  printf("alive: answered (not HTTP)\n");
  return 0;
}
