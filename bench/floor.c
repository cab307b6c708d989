/* The P1 floor: the least any supervisor that starts nats-server can do. It execs nats-server at
 * once (vfork), reads its log, and creates READY_FILE at the leaf's acceptance line
 * ("- lid:N - JetStream Not Extended"), as leaf-agent's ready file. No credentials, no config,
 * no checks. bench/bench.py times it like the bare nats-server, until the hub lists the leaf: its
 * ratio is the part of P1 that no wrapper can remove (its own exec, the vfork, the pipe), on this
 * machine; an agent also has to see the hub's acceptance before it signals ready (P2).
 *   floor READY_FILE nats-server -c CONF */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;
static void stop(int sig) { (void)sig; if (child > 0) kill(child, SIGTERM); }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: floor READY_FILE nats-server ARGS...\n"); return 2; }
  int fds[2];
  if (pipe(fds) != 0) return 1;
  child = vfork();
  if (child == 0) {
    dup2(fds[1], 2);
    dup2(fds[1], 1);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  close(fds[1]);
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  char buf[65536];
  size_t have = 0;
  int ready = 0;
  for (;;) {
    ssize_t n = read(fds[0], buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = '\0';
    char *line = buf, *eol;
    while ((eol = strchr(line, '\n')) != NULL) {
      *eol = '\0';
      if (!ready && strstr(line, " - lid:") && strstr(line, "JetStream Not Extended")) {
        int f = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (f >= 0) close(f);
        ready = 1;
      }
      line = eol + 1;
    }
    have = (size_t)(buf + have - line);
    memmove(buf, line, have);
    if (have == sizeof buf - 1) have = 0;
  }
  int st = 0;
  waitpid(child, &st, 0);
  unlink(argv[1]);
  return 0;
}
