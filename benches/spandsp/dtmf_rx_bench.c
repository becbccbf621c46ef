/* Throughput of spandsp's dtmf_rx on a raw 8 kHz s16le file, same framing as
 * `switchboard bench dtmf` (20 ms frames, fresh receiver per pass, default parameters).
 * Build: cc -O2 -o dtmf_rx_bench dtmf_rx_bench.c -lspandsp
 * Usage: dtmf_rx_bench FILE.raw REPS */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <spandsp.h>

static int digits;

static void on_digits(void *user, const char *d, int len) {
    (void)user; (void)d;
    digits += len;
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s FILE.raw REPS\n", argv[0]); return 2; }
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
