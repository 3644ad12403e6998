/* The step engine's event loop in C: rctsim/engine_fast.py's `run`, statement for statement.

   The same two processes (the DMA loader and the array) as explicit state machines, the same
   heap of future events ordered by (time, id), the same FIFO of events due now, the same
   floating-point operations in the same order: every result is bit-identical to engine_fast.py
   and so to the SimPy reference (tests/test_engine_fast.py). Plain C99, no Python C API; loaded
   with ctypes by rctsim/engine_c.py. Build it with -ffp-contract=off (no fused multiply-add)
   and without -ffast-math: either would change the last bit of some results.

   Entry point: rct_engine_step (arguments at its definition): what rctsim/engine.py's
   `simulate_step` asks of one step in one call: the pass at the DRAM latency, its zero-latency
   twin where the stall split needs it, each op's wait split into DRAM bandwidth and DRAM
   latency, and the timeline sorted and joined as `engine._merge` does. Returns 0, or
     -1  a negative delay (an op's per-chunk cycles or bytes are negative),
     -2  out of memory,
     -3  an internal bound was broken (more pending write-backs than buffers).
*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RCT_ENGINE_ABI 2

/* the loader's state at a wait, as engine_fast.py's `ld_mode` */
enum { M_RAW = 1, M_SLOT = 2, M_XFER = 3, M_NEXT = 5 };
/* what an event resumes */
enum { EV_LSEND, EV_CSEND, EV_RELEASE, EV_DONE };
/* where a process waits */
enum { LS_INIT, LS_RAW, LS_SLOT, LS_XFER, LS_DONE };
enum { CS_INIT, CS_READY, CS_COMPUTE };

typedef struct { double t; int64_t id; int fn; int64_t arg; } HeapEv;
typedef struct { int fn; int64_t arg; } NowEv;

typedef struct {
    /* inputs */
    int64_t n_ops;
    const double *rd, *cy, *wr;
    const int64_t *dep_off, *dep_idx;
    double latency;
    int keep, merge;
    int64_t buffers, max_period;
    /* per op */
    int64_t *unloaded, *uncomputed, *listen;
    unsigned char *triggered;
    double *idle;
    /* the log (timeline), written while it fits */
    int64_t log_n, log_cap;
    unsigned char *log_lane;
    int64_t *log_op;
    double *log_start, *log_end;
    /* events */
    HeapEv *heap; int64_t heap_n, heap_cap;
    NowEv *nowq; int64_t nq_head, nq_n, nq_cap;   /* ring */
    int64_t next_id;
    /* queues */
    int64_t *ready; int64_t rd_head, rd_n, rd_cap; /* ring of op indices */
    double *rel; int64_t rel_head, rel_n, rel_cap; /* ring of release times (<= buffers) */
    int64_t nslots;
    int slot_waiter, ready_waiter;
    double now, free_, busy, skipped, ld_until, last_end;
    int64_t ld_op; int ld_mode; int64_t simulated;
    int64_t cond_need, cond_count;
    /* the loader's locals */
    int ls; int64_t lj;
    /* the array's locals */
    int cs; int64_t cj, cur; double cstart;
    /* history of the current op: max_period entries of (start, key[5], sig[2+buffers], left) */
    int64_t hist_n, hist_head, sig_w;
    double *h_start; int64_t *h_key; double *h_sig; int64_t *h_left;
    double *sig;  /* scratch: this chunk's signature */
    int err;
} Sim;

/* ---- growable queues ---- */

static int heap_push(Sim *s, double t, int fn, int64_t arg) {
    if (s->heap_n == s->heap_cap) {
        int64_t cap = s->heap_cap * 2;
        HeapEv *h = (HeapEv *)realloc(s->heap, (size_t)cap * sizeof(HeapEv));
        if (!h) { s->err = -2; return -1; }
        s->heap = h; s->heap_cap = cap;
    }
    HeapEv ev; ev.t = t; ev.id = s->next_id++; ev.fn = fn; ev.arg = arg;
    int64_t i = s->heap_n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        HeapEv *q = &s->heap[p];
        if (q->t < ev.t || (q->t == ev.t && q->id < ev.id)) break;
        s->heap[i] = *q;
        i = p;
    }
    s->heap[i] = ev;
    return 0;
}

static int ev_less(const HeapEv *a, const HeapEv *b) {
    return a->t < b->t || (a->t == b->t && a->id < b->id);
}

static HeapEv heap_pop(Sim *s) {
    HeapEv top = s->heap[0];
    HeapEv last = s->heap[--s->heap_n];
    int64_t n = s->heap_n, i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && ev_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!ev_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) s->heap[i] = last;
    return top;
}

static int now_push(Sim *s, int fn, int64_t arg) {
    if (s->nq_n == s->nq_cap) {
        int64_t cap = s->nq_cap * 2;
        NowEv *q = (NowEv *)malloc((size_t)cap * sizeof(NowEv));
        if (!q) { s->err = -2; return -1; }
        for (int64_t k = 0; k < s->nq_n; k++) q[k] = s->nowq[(s->nq_head + k) % s->nq_cap];
        free(s->nowq);
        s->nowq = q; s->nq_cap = cap; s->nq_head = 0;
    }
    NowEv *e = &s->nowq[(s->nq_head + s->nq_n) % s->nq_cap];
    e->fn = fn; e->arg = arg;
    s->nq_n++;
    return 0;
}

static NowEv now_pop(Sim *s) {
    NowEv e = s->nowq[s->nq_head];
    s->nq_head = (s->nq_head + 1) % s->nq_cap;
    s->nq_n--;
    return e;
}

static int ready_push(Sim *s, int64_t j) {
    if (s->rd_n == s->rd_cap) {
        int64_t cap = s->rd_cap * 2;
        int64_t *q = (int64_t *)malloc((size_t)cap * sizeof(int64_t));
        if (!q) { s->err = -2; return -1; }
        for (int64_t k = 0; k < s->rd_n; k++) q[k] = s->ready[(s->rd_head + k) % s->rd_cap];
        free(s->ready);
        s->ready = q; s->rd_cap = cap; s->rd_head = 0;
    }
    s->ready[(s->rd_head + s->rd_n) % s->rd_cap] = j;
    s->rd_n++;
    return 0;
}

static int64_t ready_pop(Sim *s) {
    int64_t j = s->ready[s->rd_head];
    s->rd_head = (s->rd_head + 1) % s->rd_cap;
    s->rd_n--;
    return j;
}

static void log_add(Sim *s, int lane, int64_t op, double a, double b) {
    int64_t k = s->log_n++;
    if (k < s->log_cap) {
        s->log_lane[k] = (unsigned char)lane;
        s->log_op[k] = op;
        s->log_start[k] = a;
        s->log_end[k] = b;
    }
}

/* ---- the loader (engine_fast.run's `loader`) ---- */

static void loader(Sim *s) {
    int64_t j;
    double read;
    switch (s->ls) {
    case LS_INIT: break;
    case LS_RAW: goto after_raw;
    case LS_SLOT: goto after_slot;
    case LS_XFER: goto after_xfer;
    default: return; /* done: never resumed again */
    }
    s->lj = 0;
next_op:
    if (s->lj >= s->n_ops) goto finish;
    j = s->lj;
    s->ld_op = j;
    if (s->dep_off[j + 1] > s->dep_off[j] && s->rd[j] > 0) {
        int64_t nw = 0;
        for (int64_t k = s->dep_off[j]; k < s->dep_off[j + 1]; k++)
            if (!s->triggered[s->dep_idx[k]]) nw++;
        if (nw) {
            s->ld_mode = M_RAW;
            s->cond_need = nw; s->cond_count = 0;
            for (int64_t k = s->dep_off[j]; k < s->dep_off[j + 1]; k++)
                if (!s->triggered[s->dep_idx[k]]) s->listen[s->dep_idx[k]] += 1;
            s->ls = LS_RAW;
            return;
        }
    }
after_raw:
next_chunk:
    j = s->lj;
    if (!(s->unloaded[j] > 0)) { s->lj++; goto next_op; }
    s->unloaded[j] -= 1;
    if (s->nslots) {
        s->nslots -= 1;
    } else {
        s->ld_mode = M_SLOT; s->slot_waiter = 1;
        s->ls = LS_SLOT;
        return;
    }
after_slot:
    j = s->lj;
    read = s->rd[j];
    if (read > 0) {
        double t0 = s->now;
        double a = t0 + s->latency;
        double start = s->free_ > a ? s->free_ : a;
        double end = start + read;
        s->free_ = end;
        s->busy += read;
        s->ld_mode = M_XFER; s->ld_until = end;
        if (s->keep) log_add(s, 0, j, start + s->skipped, end + s->skipped);
        double t = t0 + (end - t0);
        if (t == t0) {
            if (now_push(s, EV_LSEND, -1)) return;
        } else {
            if (heap_push(s, t, EV_LSEND, -1)) return;
        }
        s->ls = LS_XFER;
        return;
    }
after_xfer:
    j = s->lj;
    if (s->ready_waiter) {
        s->ready_waiter = 0;
        if (now_push(s, EV_CSEND, j)) return;
    } else {
        if (ready_push(s, j)) return;
    }
    goto next_chunk;
finish:
    s->ld_op = s->n_ops; s->ld_mode = M_NEXT;
    s->ls = LS_DONE;
}

/* ---- the array (engine_fast.run's `compute`) ---- */

static int close_sig(const double *a, const double *b, int64_t n, double tol) {
    for (int64_t k = 0; k < n; k++) {
        double d = a[k] - b[k];
        if (d < 0) d = -d;
        if (d > tol) return 0;
    }
    return 1;
}

static void compute(Sim *s, int64_t arg) {
    int64_t j;
    double start, read, cycles, write;
    switch (s->cs) {
    case CS_INIT: break;
    case CS_READY: j = arg; goto got;
    case CS_COMPUTE: goto computed;
    default: return;
    }
    s->hist_n = 0; s->hist_head = 0;
    s->cur = -1;
loop:
    if (s->rd_n) {
        j = ready_pop(s);
    } else {
        s->ready_waiter = 1;
        s->cs = CS_READY;
        return;
    }
got:
    s->cj = j;
    start = s->cstart = s->now;
    if (start > s->last_end) s->idle[j] += start - s->last_end;
    read = s->rd[j]; cycles = s->cy[j]; write = s->wr[j];
    if (j != s->cur) { s->cur = j; s->hist_n = 0; s->hist_head = 0; }
    {
        int64_t left = s->unloaded[j];
        if (s->merge && left > 0) {
            double d = s->free_ - start;
            double u = s->ld_until - start;
            int64_t nrel = s->rel_n;
            int64_t key[5];
            key[0] = s->ld_op; key[1] = s->ld_mode; key[2] = s->nslots; key[3] = s->rd_n;
            key[4] = nrel;
            double *sig = s->sig;
            sig[0] = d > 0.0 ? d : 0.0;
            sig[1] = u > 0.0 ? u : 0.0;
            for (int64_t k = 0; k < nrel; k++)
                sig[2 + k] = s->rel[(s->rel_head + k) % s->rel_cap] - start;
            int64_t nsig = 2 + nrel;
            double tol = 1e-9 * (start > 1.0 ? start : 1.0);
            int matched = 0;
            for (int64_t p = 1; p <= s->hist_n; p++) {
                /* hist[-p]: the p-th most recent entry */
                int64_t e = (s->hist_head + s->hist_n - p) % s->max_period;
                const int64_t *kp = &s->h_key[5 * e];
                if (s->h_left[e] == left + p && kp[0] == key[0] && kp[1] == key[1]
                        && kp[2] == key[2] && kp[3] == key[3] && kp[4] == key[4]
                        && close_sig(sig, &s->h_sig[s->sig_w * e], nsig, tol)) {
                    double span = start - s->h_start[e];
                    int64_t m = left / p * p;
                    s->unloaded[j] -= m;
                    s->uncomputed[j] -= m;
                    double skip = (double)(m / p) * span;
                    s->skipped += skip;
                    s->busy += (double)m * (read + write);
                    double gap = skip - (double)m * cycles;
                    s->idle[j] += gap > 0.0 ? gap : 0.0;
                    if (s->keep) {
                        double t0 = start + s->skipped - skip;
                        log_add(s, 1, j, t0, t0 + (double)m * cycles);
                        log_add(s, 0, j, t0, t0 + (double)m * (read + write));
                    }
                    s->hist_n = 0; s->hist_head = 0;
                    matched = 1;
                    break;
                }
            }
            if (!matched) {
                int64_t e;
                if (s->hist_n == s->max_period) {  /* a full deque drops its oldest */
                    e = s->hist_head;
                    s->hist_head = (s->hist_head + 1) % s->max_period;
                } else {
                    e = (s->hist_head + s->hist_n) % s->max_period;
                    s->hist_n++;
                }
                s->h_start[e] = start;
                memcpy(&s->h_key[5 * e], key, sizeof(key));
                memcpy(&s->h_sig[s->sig_w * e], sig, (size_t)nsig * sizeof(double));
                s->h_left[e] = left;
            }
        }
    }
    s->simulated += 1;
    {
        double t = start + cycles;
        if (t == start) {
            if (now_push(s, EV_CSEND, -1)) return;
        } else {
            if (heap_push(s, t, EV_CSEND, -1)) return;
        }
    }
    s->cs = CS_COMPUTE;
    return;
computed:
    j = s->cj; start = s->cstart;
    read = s->rd[j]; cycles = s->cy[j]; write = s->wr[j];
    (void)read;
    {
        double t = s->last_end = s->now;
        double end;
        if (s->keep && cycles > 0) log_add(s, 1, j, start + s->skipped, t + s->skipped);
        s->uncomputed[j] -= 1;
        if (write > 0) {
            double wstart = t > s->free_ ? t : s->free_;
            end = wstart + write;
            s->free_ = end;
            s->busy += write;
            if (s->keep) log_add(s, 0, j, wstart + s->skipped, end + s->skipped);
            if (s->rel_n == s->rel_cap) { s->err = -3; return; }
            s->rel[(s->rel_head + s->rel_n) % s->rel_cap] = end;
            s->rel_n++;
            int64_t last = (s->uncomputed[j] == 0 && end > t) ? j : -1;
            double tr = t + (end - t);
            if (tr == t) {
                if (now_push(s, EV_RELEASE, last)) return;
            } else {
                if (heap_push(s, tr, EV_RELEASE, last)) return;
            }
        } else {
            end = t;
            if (s->slot_waiter) {
                s->slot_waiter = 0;
                if (now_push(s, EV_LSEND, -1)) return;
            } else {
                s->nslots += 1;
            }
        }
        if (s->uncomputed[j] == 0 && !(end > t)) {
            s->triggered[j] = 1;
            if (s->listen[j]) {
                if (now_push(s, EV_DONE, j)) return;
            }
        }
    }
    goto loop;
}

static void release(Sim *s, int64_t op) {
    s->rel_head = (s->rel_head + 1) % s->rel_cap;
    s->rel_n--;
    if (s->slot_waiter) {
        s->slot_waiter = 0;
        if (now_push(s, EV_LSEND, -1)) return;
    } else {
        s->nslots += 1;
    }
    if (op >= 0) {
        s->triggered[op] = 1;
        if (s->listen[op]) now_push(s, EV_DONE, op);
    }
}

static void done_event(Sim *s, int64_t op) {
    s->cond_count += s->listen[op];
    s->listen[op] = 0;
    if (s->cond_count == s->cond_need) now_push(s, EV_LSEND, -1);
}

int rct_engine_abi(void) { return RCT_ENGINE_ABI; }

/* sha256 of this file as it was built (setup.py defines it): the loader uses the library only
   when it matches the _engine.c beside it. */
#ifndef RCT_ENGINE_SOURCE
#define RCT_ENGINE_SOURCE ""
#endif
const char *rct_engine_source(void) { return RCT_ENGINE_SOURCE; }

/* One pass over the step (engine_fast.run). Per op (n_ops of each): rd, cy, wr are the
   per-chunk read, compute and write cycles (engine_fast's `per`), chunks the chunk counts
   already raised to >= 1; the RAW waits of op j are dep_idx[dep_off[j] .. dep_off[j+1]]
   (indices in 0..n_ops-1, listed only where engine_fast's `raw` lists them). Outputs:
   out[0] total cycles, out[1] DRAM busy cycles, idle[n_ops] (zeroed by the caller),
   *simulated, and while keep: up to log_cap timeline intervals (lane 0 dma / 1 compute, op,
   start, end) with *log_n the number made (more than log_cap: call again with room). */
static int run_once(int64_t n_ops, const double *rd, const double *cy, const double *wr,
                    const int64_t *chunks, const int64_t *dep_off, const int64_t *dep_idx,
                    double latency, int keep, int merge, int64_t buffers, int64_t max_period,
                    double *out, double *idle, int64_t *simulated,
                    int64_t log_cap, unsigned char *log_lane, int64_t *log_op,
                    double *log_start, double *log_end, int64_t *log_n) {
    for (int64_t j = 0; j < n_ops; j++) {  /* engine_fast: any(min(p) < 0 for p in per) */
        double m = rd[j];
        if (cy[j] < m) m = cy[j];
        if (wr[j] < m) m = wr[j];
        if (m < 0) return -1;
    }
    if (buffers < 0) buffers = 0;
    if (max_period < 1) max_period = 1;
    Sim S;
    Sim *s = &S;
    memset(s, 0, sizeof(S));
    s->n_ops = n_ops; s->rd = rd; s->cy = cy; s->wr = wr;
    s->dep_off = dep_off; s->dep_idx = dep_idx;
    s->latency = latency; s->keep = keep; s->merge = merge;
    s->buffers = buffers; s->max_period = max_period;
    s->idle = idle;
    s->log_cap = keep ? log_cap : 0;
    s->log_lane = log_lane; s->log_op = log_op; s->log_start = log_start; s->log_end = log_end;
    s->nslots = buffers;
    s->next_id = 1;
    s->sig_w = 2 + buffers;
    size_t n = (size_t)(n_ops > 0 ? n_ops : 1);
    s->unloaded = (int64_t *)malloc(n * sizeof(int64_t));
    s->uncomputed = (int64_t *)malloc(n * sizeof(int64_t));
    s->listen = (int64_t *)calloc(n, sizeof(int64_t));
    s->triggered = (unsigned char *)calloc(n, 1);
    s->heap_cap = 16; s->heap = (HeapEv *)malloc(16 * sizeof(HeapEv));
    s->nq_cap = 16; s->nowq = (NowEv *)malloc(16 * sizeof(NowEv));
    s->rd_cap = 16; s->ready = (int64_t *)malloc(16 * sizeof(int64_t));
    s->rel_cap = buffers + 1; s->rel = (double *)malloc((size_t)s->rel_cap * sizeof(double));
    s->h_start = (double *)malloc((size_t)max_period * sizeof(double));
    s->h_key = (int64_t *)malloc((size_t)max_period * 5 * sizeof(int64_t));
    s->h_sig = (double *)malloc((size_t)(max_period * s->sig_w) * sizeof(double));
    s->h_left = (int64_t *)malloc((size_t)max_period * sizeof(int64_t));
    s->sig = (double *)malloc((size_t)s->sig_w * sizeof(double));
    int rc = 0;
    if (!s->unloaded || !s->uncomputed || !s->listen || !s->triggered || !s->heap || !s->nowq
            || !s->ready || !s->rel || !s->h_start || !s->h_key || !s->h_sig || !s->h_left
            || !s->sig) {
        rc = -2;
        goto out;
    }
    for (int64_t j = 0; j < n_ops; j++) s->unloaded[j] = s->uncomputed[j] = chunks[j];

    s->ls = LS_INIT; s->cs = CS_INIT;
    loader(s);
    if (!s->err) compute(s, -1);
    while (!s->err) {
        int fn; int64_t arg;
        if (s->nq_n) {
            if (s->heap_n && s->heap[0].t == s->now) {
                HeapEv e = heap_pop(s);
                s->now = e.t; fn = e.fn; arg = e.arg;
            } else {
                NowEv e = now_pop(s);
                fn = e.fn; arg = e.arg;
            }
        } else if (s->heap_n) {
            HeapEv e = heap_pop(s);
            s->now = e.t; fn = e.fn; arg = e.arg;
        } else {
            break;
        }
        switch (fn) {
        case EV_LSEND: loader(s); break;
        case EV_CSEND: compute(s, arg); break;
        case EV_RELEASE: release(s, arg); break;
        default: done_event(s, arg); break;
        }
    }
    if (s->err) { rc = s->err; goto out; }
    out[0] = s->now + s->skipped;
    out[1] = s->busy;
    if (n_ops) {
        double gap = s->now - s->last_end;
        idle[n_ops - 1] += gap > 0.0 ? gap : 0.0;
    }
    *simulated = s->simulated;
    *log_n = s->log_n;
out:
    free(s->unloaded); free(s->uncomputed); free(s->listen); free(s->triggered);
    free(s->heap); free(s->nowq); free(s->ready); free(s->rel);
    free(s->h_start); free(s->h_key); free(s->h_sig); free(s->h_left); free(s->sig);
    return rc;
}

/* ---- the timeline sorted and joined (engine._merge) ---- */

typedef struct { double start, end; int64_t op; int rank; unsigned char lane; } LogRec;

/* engine._merge sorts by (lane name, start), stably: "compute" (lane 1) before "dma" (lane 0),
   and equal keys keep the order the intervals were made in. */
static int rec_less(const LogRec *a, const LogRec *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->start < b->start);
}

/* A stable bottom-up merge sort of recs[0..n) (tmp: room for n more). */
static void sort_recs(LogRec *recs, LogRec *tmp, int64_t n) {
    LogRec *src = recs, *dst = tmp;
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, k = mid, o = lo;
            while (i < mid && k < hi) {
                if (rec_less(&src[k], &src[i])) dst[o++] = src[k++];  /* ties: the left first */
                else dst[o++] = src[i++];
            }
            while (i < mid) dst[o++] = src[i++];
            while (k < hi) dst[o++] = src[k++];
        }
        LogRec *t = src; src = dst; dst = t;
    }
    if (src != recs) memcpy(recs, src, (size_t)n * sizeof(LogRec));
}

/* engine._merge on the log in place: sorted by (lane name, start), then each interval joined
   to the one before it when both are on the same lane, of ops with the same label (label_id:
   one number per distinct label) and it starts less than 1e-9 cycles after that one's end
   (the joined interval keeps the first start and takes the later end). Returns the number of
   intervals left, -1 where a start is NaN (Python's sort orders NaN in its own way: the caller
   merges that log itself; the log is then untouched), -2 out of memory. */
static int64_t merge_log(int64_t n, unsigned char *lane, int64_t *op, double *start,
                         double *end, const int64_t *label_id) {
    for (int64_t k = 0; k < n; k++)
        if (start[k] != start[k]) return -1;
    if (n == 0) return 0;
    LogRec *recs = (LogRec *)malloc((size_t)n * sizeof(LogRec));
    LogRec *tmp = (LogRec *)malloc((size_t)n * sizeof(LogRec));
    if (!recs || !tmp) { free(recs); free(tmp); return -2; }
    for (int64_t k = 0; k < n; k++) {
        recs[k].start = start[k]; recs[k].end = end[k]; recs[k].op = op[k];
        recs[k].lane = lane[k]; recs[k].rank = lane[k] == 1 ? 0 : 1;
    }
    sort_recs(recs, tmp, n);
    int64_t m = 0;
    for (int64_t k = 0; k < n; k++) {
        const LogRec *r = &recs[k];
        if (m > 0 && lane[m - 1] == r->lane && label_id[op[m - 1]] == label_id[r->op]
                && r->start - end[m - 1] < 1e-9) {
            op[m - 1] = r->op;
            end[m - 1] = r->end;
        } else {
            lane[m] = r->lane; op[m] = r->op; start[m] = r->start; end[m] = r->end;
            m++;
        }
    }
    free(recs); free(tmp);
    return m;
}

/* ---- the entry point ---- */

/* What engine.simulate_step asks of one step. Per op (n_ops of each): rn and wn the DRAM bytes
   read and written per chunk (engine_fast's `w.dram_read_bytes / n`, `w.dram_write_bytes / n`),
   divided here by bw (DRAM bytes per cycle) into engine_fast's per-chunk read and write
   cycles; cy the per-chunk compute cycles; chunks, dep_off, dep_idx as run_once takes them.

   One pass at `latency` (run_once), its timeline kept while `keep`. Where dram_bw is given
   (not NULL), each op's wait is split as simulate_step splits it: where `split` (the caller's
   split_latency and latency > 0 and some op reads or writes DRAM) and any op waited, a second
   pass at zero latency gives waits v0; then per op, with v the first pass's wait,
   wait = max(0.0, v), lat = min(wait, max(0.0, wait - v0)) (v0 = v where there is no second
   pass), dram_bw[j] = wait - lat, dram_lat[j] = lat, with Python's max and min (the first
   argument unless the second is greater, or less). Where label_id is given (one number per
   distinct label of the ops) and the whole log fitted, the log is sorted and joined in place
   (merge_log).

   Outputs: out[0] total cycles, out[1] DRAM busy cycles, idle[n_ops] the first pass's waits,
   counts[0] chunks replayed, counts[1] timeline intervals made (more than log_cap: call again
   with room), counts[2] intervals after merge_log (-1: not merged). Returns as run_once. */
int rct_engine_step(int64_t n_ops, const double *rn, const double *cy, const double *wn,
                    double bw, const int64_t *chunks, const int64_t *dep_off,
                    const int64_t *dep_idx, double latency, int keep, int merge,
                    int64_t buffers, int64_t max_period, int split, const int64_t *label_id,
                    double *out, double *idle, double *dram_bw, double *dram_lat,
                    int64_t *counts, int64_t log_cap, unsigned char *log_lane,
                    int64_t *log_op, double *log_start, double *log_end) {
    size_t n = (size_t)(n_ops > 0 ? n_ops : 1);
    double *rd = (double *)malloc(n * sizeof(double));
    double *wr = (double *)malloc(n * sizeof(double));
    double *idle0 = NULL;
    int rc = 0;
    counts[0] = counts[1] = 0; counts[2] = -1;
    out[0] = out[1] = 0.0;
    if (!rd || !wr) { rc = -2; goto done; }
    for (int64_t j = 0; j < n_ops; j++) {  /* engine_fast's `per`: w.dram_*_bytes / n / bw */
        rd[j] = rn[j] / bw;
        wr[j] = wn[j] / bw;
        idle[j] = 0.0;
    }
    if (!keep) log_cap = 0;
    rc = run_once(n_ops, rd, cy, wr, chunks, dep_off, dep_idx, latency, keep, merge, buffers,
                  max_period, out, idle, &counts[0], log_cap, log_lane, log_op, log_start,
                  log_end, &counts[1]);
    if (rc) goto done;
    if (dram_bw) {
        const double *v0 = idle;
        int waited = 0;
        for (int64_t j = 0; j < n_ops && split; j++)
            if (idle[j] != 0.0) { waited = 1; break; }  /* Python's any(): NaN counts */
        if (waited) {
            double out0[2] = {0.0, 0.0};
            int64_t simulated0 = 0, log_n0 = 0;
            idle0 = (double *)calloc(n, sizeof(double));
            if (!idle0) { rc = -2; goto done; }
            rc = run_once(n_ops, rd, cy, wr, chunks, dep_off, dep_idx, 0.0, 0, merge, buffers,
                          max_period, out0, idle0, &simulated0, 0, NULL, NULL, NULL, NULL,
                          &log_n0);
            if (rc) goto done;
            v0 = idle0;
        }
        for (int64_t j = 0; j < n_ops; j++) {
            double v = idle[j];
            double wait = v > 0.0 ? v : 0.0;
            double d = wait - v0[j];
            double dm = d > 0.0 ? d : 0.0;
            double lat = dm < wait ? dm : wait;
            dram_bw[j] = wait - lat;
            dram_lat[j] = lat;
        }
    }
    if (keep && label_id && counts[1] <= log_cap) {
        int64_t m = merge_log(counts[1], log_lane, log_op, log_start, log_end, label_id);
        if (m == -2) { rc = -2; goto done; }
        counts[2] = m;
    }
done:
    free(rd); free(wr); free(idle0);
    return rc;
}
