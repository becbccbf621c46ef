/* spandsp's dtmf_rx for scripts/bench-dtmf, three modes:
 *
 *   dtmf_rx_bench FILE.raw REPS
 *       detector only: throughput on a raw 8 kHz s16le file already in memory, same
 *       framing as `switchboard bench dtmf` (20 ms frames, fresh receiver per pass,
 *       default parameters);
 *   dtmf_rx_bench decode FILE.wav
 *       a whole decoder: streams an 8 kHz mono 16-bit WAV file through dtmf_rx in
 *       20 ms frames with fread (nothing buffered) and prints the digits, like
 *       `switchboard dtmf decode`;
 *   dtmf_rx_bench measure CMD ARGS...
 *       runs CMD (stdout discarded) and prints its whole-process CPU time (user + system)
 *       and peak RSS from wait4(2).
 *
 * Build: cc -O2 -o dtmf_rx_bench dtmf_rx_bench.c -lspandsp */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <spandsp.h>

static int digits;

static void on_digits(void *user, const char *d, int len) {
    (void)user; (void)d;
    digits += len;
}

static void print_digits(void *user, const char *d, int len) {
    (void)user;
    fwrite(d, 1, (size_t)len, stdout);
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t le32(const unsigned char *p) {
    return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Streams the data chunk of an 8 kHz mono 16-bit PCM WAV file (little-endian host). */
static int decode(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 2; }
    unsigned char h[12];
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
        fprintf(stderr, "%s: not a WAV file\n", path);
        return 2;
    }
    int fmt_ok = 0;
    for (;;) {
        unsigned char c[8];
        if (fread(c, 1, 8, f) != 8) { fprintf(stderr, "%s: no data chunk\n", path); return 2; }
        uint32_t len = le32(c + 4);
        if (!memcmp(c, "fmt ", 4)) {
            unsigned char fm[16];
            if (len < 16 || fread(fm, 1, 16, f) != 16) return 2;
            fmt_ok = (fm[0] | fm[1] << 8) == 1 && (fm[2] | fm[3] << 8) == 1 && le32(fm + 4) == 8000
                     && (fm[14] | fm[15] << 8) == 16;
            fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR);
        } else if (!memcmp(c, "data", 4)) {
            break;
        } else {
            fseek(f, (long)(len + (len & 1)), SEEK_CUR);
        }
    }
    if (!fmt_ok) { fprintf(stderr, "%s: need 8 kHz mono 16-bit PCM\n", path); return 2; }
    dtmf_rx_state_t *s = dtmf_rx_init(NULL, print_digits, NULL);
    int16_t frame[160];
    size_t n;
    while ((n = fread(frame, 2, 160, f)) > 0)
        dtmf_rx(s, frame, (int)n);
    memset(frame, 0, sizeof frame);
    dtmf_rx(s, frame, 160);
    dtmf_rx(s, frame, 160);
    dtmf_rx_free(s);
    fclose(f);
    putchar('\n');
    return 0;
}

static int measure(char **argv) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        execvp(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 1; }
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec
                 + ru.ru_stime.tv_usec * 1e-6;
    printf("%.3f CPU-s %ld KB exit %d\n", cpu, ru.ru_maxrss,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "decode")) return decode(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "measure")) return measure(argv + 2);
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE.raw REPS | decode FILE.wav | measure CMD ARGS...\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    long n = bytes / 2;
    int16_t *audio = malloc(n * sizeof(int16_t));
    if (!audio || fread(audio, 2, n, f) != (size_t)n) { fprintf(stderr, "read failed\n"); return 1; }
    fclose(f);
    int reps = atoi(argv[2]);
    if (reps < 1) reps = 1;
    double t0 = cpu_seconds();
    for (int r = 0; r < reps; r++) {
        digits = 0;
        dtmf_rx_state_t *s = dtmf_rx_init(NULL, on_digits, NULL);
        for (long i = 0; i < n; i += 160) {
            int len = (n - i) < 160 ? (int)(n - i) : 160;
            dtmf_rx(s, audio + i, len);
        }
        dtmf_rx_free(s);
    }
    double cpu = cpu_seconds() - t0;
    double audio_s = (double)n / 8000.0 * reps;
    printf("spandsp dtmf_rx: %.0f audio-s in %.3f CPU-s = %.0f audio-seconds per CPU-second (%d digits per pass)\n",
           audio_s, cpu, audio_s / cpu, digits);
    return 0;
}
