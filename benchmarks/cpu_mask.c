/* Runs a process as if its CPU lacked some instruction sets, to measure the code paths a
 * CPU without them takes, on the real cores of this one.
 *
 * Loaded with LD_PRELOAD. CPU_MASK names what to hide:
 *   no-bf16  AVX512-BF16 and AMX-BF16 (an AVX-512 CPU without bfloat16, as Ice Lake or
 *            Cascade Lake)
 *   avx2     every AVX-512, AVX-VNNI and AMX extension (an AVX2-only CPU, as Haswell to
 *            Alder Lake client parts or AMD Zen 1-3)
 * Two ways a library learns what the CPU has are covered: the CPUID instruction (onnxruntime's
 * MLAS, PyTorch's cpuinfo and oneDNN dispatch on it), made to fault with the kernel's CPUID
 * faulting (arch_prctl ARCH_SET_CPUID, Linux >= 4.12, where /proc/cpuinfo shows cpuid_fault)
 * and answered by this library with the hidden bits cleared; and /proc/cpuinfo, whose flags
 * line is served filtered. glibc reads CPUID before this library loads (its own memcpy
 * variants keep AVX-512), and a library that tests XGETBV alone is not covered.
 * Children inherit LD_PRELOAD and the variable, and load it again after execve (which resets
 * CPUID faulting); threads inherit the faulting setting. A process that installs its own
 * SIGSEGV handler afterwards (Python's faulthandler, PYTHONFAULTHANDLER) takes the next CPUID
 * fault itself and dies: run masked processes without one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012

static int hide_bf16, hide_avx512;
static char cpuinfo_copy[256];
static pid_t creator; /* the process that wrote cpuinfo_copy (a forked child must not remove it) */

static void clear_bits(unsigned leaf, unsigned sub, unsigned *a, unsigned *b, unsigned *c,
                       unsigned *d) {
    (void)c;
    if (leaf == 7 && sub == 0) {
        if (hide_avx512) {
            /* EBX: avx512 f, dq, ifma, cd, bw, vl */
            *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 28) | (1u << 30) | (1u << 31));
            /* ECX: avx512 vbmi, vbmi2, vnni, bitalg, vpopcntdq */
            *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
            /* EDX: avx512 vp2intersect, fp16, amx bf16, tile, int8 */
            *d &= ~((1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
        } else if (hide_bf16) {
            *d &= ~(1u << 22); /* amx_bf16 */
        }
    }
    if (leaf == 7 && sub == 1) {
        if (hide_bf16 || hide_avx512) *a &= ~(1u << 5); /* avx512_bf16 */
        if (hide_avx512) *a &= ~(1u << 4);              /* avx_vnni */
    }
}

static void real_cpuid(unsigned leaf, unsigned sub, unsigned *a, unsigned *b, unsigned *c,
                       unsigned *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
    if (ip[0] != 0x0f || ip[1] != 0xa2) { /* not CPUID: the default action */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    unsigned leaf = (unsigned)regs[REG_RAX], sub = (unsigned)regs[REG_RCX], a, b, c, d;
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    real_cpuid(leaf, sub, &a, &b, &c, &d);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    clear_bits(leaf, sub, &a, &b, &c, &d);
    regs[REG_RAX] = a;
    regs[REG_RBX] = b;
    regs[REG_RCX] = c;
    regs[REG_RDX] = d;
    regs[REG_RIP] += 2;
    (void)info;
}

static int hidden_flag(const char *flag) {
    if (hide_bf16 || hide_avx512) {
        if (!strcmp(flag, "avx512_bf16") || !strcmp(flag, "amx_bf16")) return 1;
    }
    if (hide_avx512) {
        if (!strncmp(flag, "avx512", 6) || !strncmp(flag, "amx", 3) || !strcmp(flag, "avx_vnni"))
            return 1;
    }
    return 0;
}

/* /proc/cpuinfo with the hidden flags taken out of its flags lines, in a private file. */
static void write_cpuinfo_copy(void) {
    FILE *in = fopen("/proc/cpuinfo", "r");
    if (!in) return;
    creator = getpid();
    snprintf(cpuinfo_copy, sizeof cpuinfo_copy, "/tmp/ragstead-cpumask-%d-cpuinfo", creator);
    FILE *out = fopen(cpuinfo_copy, "w");
    if (!out) {
        fclose(in);
        cpuinfo_copy[0] = 0;
        return;
    }
    char line[16384];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "flags", 5) != 0) {
            fputs(line, out);
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon) {
            fputs(line, out);
            continue;
        }
        fwrite(line, 1, (size_t)(colon - line + 1), out);
        for (char *tok = strtok(colon + 1, " \n"); tok; tok = strtok(NULL, " \n")) {
            if (!hidden_flag(tok)) fprintf(out, " %s", tok);
        }
        fputc('\n', out);
    }
    fclose(in);
    fclose(out);
}

static const char *redirect(const char *path) {
    if (cpuinfo_copy[0] && path && !strcmp(path, "/proc/cpuinfo")) return cpuinfo_copy;
    return path;
}

#define FORWARD_OPEN(name)                                                        \
    int name(const char *path, int flags, ...) {                                  \
        static int (*real)(const char *, int, ...);                               \
        if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        va_list ap;                                                               \
        va_start(ap, flags);                                                      \
        int mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;        \
        va_end(ap);                                                               \
        return real(redirect(path), flags, mode);                                 \
    }
FORWARD_OPEN(open)
FORWARD_OPEN(open64)

#define FORWARD_OPENAT(name)                                                         \
    int name(int dirfd, const char *path, int flags, ...) {                          \
        static int (*real)(int, const char *, int, ...);                             \
        if (!real) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        va_list ap;                                                                  \
        va_start(ap, flags);                                                         \
        int mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;           \
        va_end(ap);                                                                  \
        return real(dirfd, redirect(path), flags, mode);                             \
    }
FORWARD_OPENAT(openat)
FORWARD_OPENAT(openat64)

#define FORWARD_FOPEN(name)                                                       \
    FILE *name(const char *path, const char *mode) {                              \
        static FILE *(*real)(const char *, const char *);                         \
        if (!real) real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, #name); \
        return real(redirect(path), mode);                                        \
    }
FORWARD_FOPEN(fopen)
FORWARD_FOPEN(fopen64)

__attribute__((constructor)) static void start(void) {
    const char *mask = getenv("CPU_MASK");
    if (!mask || !*mask) return;
    if (!strcmp(mask, "no-bf16")) {
        hide_bf16 = 1;
    } else if (!strcmp(mask, "avx2")) {
        hide_avx512 = 1;
    } else {
        fprintf(stderr, "cpu_mask: CPU_MASK=%s: expected no-bf16 or avx2\n", mask);
        _exit(2);
    }
    write_cpuinfo_copy();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        fprintf(stderr, "cpu_mask: this kernel or CPU has no CPUID faulting\n");
        _exit(2);
    }
}

__attribute__((destructor)) static void stop(void) {
    if (cpuinfo_copy[0] && getpid() == creator) unlink(cpuinfo_copy);
}
