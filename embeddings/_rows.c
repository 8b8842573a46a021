/* The best product of a query with each run of rows of a float16 or float32 matrix.
 *
 * A search scores a few hundred candidate paragraphs by their best stored sentence (e5's
 * and the companion's sentence vectors, float16, memory-mapped): about 1,500 rows of 384
 * or 512 halves a question. In numpy that is a gather, a conversion to float32 in chunks,
 * a product and a segment maximum (embeddings/half.py), several passes over a few MB of
 * temporaries, right after the query encoding has evicted the caches; measured at 100k
 * paragraphs, 1.8 ms (e5) and 1.2 ms (companion) a question. Here each row is read once,
 * converted in registers (F16C) and multiplied as it is read.
 *
 * Built by setuptools as an optional extension (setup.py): without a C compiler the
 * install goes on and embeddings/half.py computes the same in numpy. Products round like
 * any float32 dot product: the order of the additions differs from BLAS's, so a score can
 * differ in the last bit, far below any difference a ranking sees.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DARI_X86 1
#include <immintrin.h>
#endif

/* A float16's bits, sign-extended to 32 and shifted left by 13, hold its exponent and
 * mantissa at a float32's mantissa end (value times 2**-112); the three copies of the sign
 * that the extension shifted into the exponent's top bits are cleared, and one
 * multiplication restores the value. Exact for every finite float16 (as half.py's). */
static inline float half_to_float(uint16_t h) {
    uint32_t bits = ((uint32_t)(int32_t)(int16_t)h << 13) & 0x8FFFFFFFu;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value * 0x1p112f;
}

static float dot_half_plain(const uint16_t *row, const float *q, Py_ssize_t dim) {
    float acc[8] = {0};
    Py_ssize_t j = 0;
    for (; j + 8 <= dim; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += half_to_float(row[j + k]) * q[j + k];
    float out = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < dim; j++) out += half_to_float(row[j]) * q[j];
    return out;
}

static float dot_float_plain(const float *row, const float *q, Py_ssize_t dim) {
    float acc[8] = {0};
    Py_ssize_t j = 0;
    for (; j + 8 <= dim; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += row[j + k] * q[j + k];
    float out = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < dim; j++) out += row[j] * q[j];
    return out;
}

#ifdef DARI_X86
__attribute__((target("avx2,fma")))
static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c")))
static float dot_half_avx2(const uint16_t *row, const float *q, Py_ssize_t dim) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    Py_ssize_t j = 0;
    for (; j + 16 <= dim; j += 16) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j)));
        __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j + 8)));
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(q + j + 8), a1);
    }
    for (; j + 8 <= dim; j += 8) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j)));
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(q + j), a0);
    }
    float out = sum8(_mm256_add_ps(a0, a1));
    for (; j < dim; j++) out += half_to_float(row[j]) * q[j];
    return out;
}

__attribute__((target("avx2,fma")))
static float dot_float_avx2(const float *row, const float *q, Py_ssize_t dim) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    Py_ssize_t j = 0;
    for (; j + 16 <= dim; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j + 8), _mm256_loadu_ps(q + j + 8), a1);
    }
    for (; j + 8 <= dim; j += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(q + j), a0);
    float out = sum8(_mm256_add_ps(a0, a1));
    for (; j < dim; j++) out += row[j] * q[j];
    return out;
}
#endif

typedef float (*dot_half_fn)(const uint16_t *, const float *, Py_ssize_t);
typedef float (*dot_float_fn)(const float *, const float *, Py_ssize_t);
static dot_half_fn dot_half = dot_half_plain;
static dot_float_fn dot_float = dot_float_plain;
static const char *kernel = "plain";
/* How much of the next run is requested ahead (a paragraph's sentences: five rows of 384
 * halves are 3.75 KB). Measured at 100k paragraphs, e5's and the companion's sentence rows
 * of 300 candidates after a query encoding: 0.93 ms without, 0.64 ms with; two runs ahead
 * gained nothing more. */
#define PREFETCH_BYTES 4096

static int is_format(const Py_buffer *view, const char *codes) {
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    return f[0] != '\0' && f[1] == '\0' && strchr(codes, f[0]) != NULL;
}

static PyObject *best_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objs[5];
    double empty;
    if (!PyArg_ParseTuple(args, "OOOOOd:best_rows", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &empty))
        return NULL;
    Py_buffer views[5];
    int flags[5] = {PyBUF_C_CONTIGUOUS | PyBUF_FORMAT, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT,
                    PyBUF_C_CONTIGUOUS | PyBUF_FORMAT, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT,
                    PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE};
    int got = 0;
    PyObject *result = NULL;
    for (; got < 5; got++)
        if (PyObject_GetBuffer(objs[got], &views[got], flags[got]) < 0) goto done;
    Py_buffer *matrix = &views[0], *starts = &views[1], *ends = &views[2], *query = &views[3],
              *out = &views[4];
    int half = is_format(matrix, "e");
    if (matrix->ndim != 2 || !(half || is_format(matrix, "f"))) {
        PyErr_SetString(PyExc_ValueError, "best_rows: the matrix must be 2-D float16 or float32");
        goto done;
    }
    Py_ssize_t rows = matrix->shape[0], dim = matrix->shape[1];
    if (query->ndim != 1 || !is_format(query, "f") || query->shape[0] != dim) {
        PyErr_SetString(PyExc_ValueError, "best_rows: the query must be float32 of the matrix's width");
        goto done;
    }
    Py_ssize_t n = out->ndim == 1 ? out->shape[0] : -1;
    if (starts->ndim != 1 || ends->ndim != 1 || starts->itemsize != 8 || ends->itemsize != 8
        || !is_format(starts, "qlQL") || !is_format(ends, "qlQL") || starts->shape[0] != n
        || ends->shape[0] != n || !is_format(out, "d")) {
        PyErr_SetString(PyExc_ValueError,
                        "best_rows: starts and ends must be int64 and out float64, all of one length");
        goto done;
    }
    const int64_t *s = starts->buf, *e = ends->buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < 0 || s[i] > e[i] || e[i] > rows) {
            PyErr_Format(PyExc_IndexError, "best_rows: run %zd (%lld:%lld) is outside the %zd rows",
                         i, (long long)s[i], (long long)e[i], rows);
            goto done;
        }
    }
    const float *q = query->buf;
    double *best = out->buf;
    Py_ssize_t row_bytes = dim * (half ? 2 : 4);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        /* The next run's rows are somewhere else in a large map: ask for their first
         * lines now, so their fetch overlaps this run's products. */
        if (i + 1 < n && s[i + 1] < e[i + 1]) {
            const char *next = (const char *)matrix->buf + s[i + 1] * row_bytes;
            Py_ssize_t span = (e[i + 1] - s[i + 1]) * row_bytes;
            if (span > PREFETCH_BYTES) span = PREFETCH_BYTES;
            for (Py_ssize_t b = 0; b < span; b += 64) __builtin_prefetch(next + b, 0, 3);
        }
        if (s[i] == e[i]) {
            best[i] = empty;
            continue;
        }
        float top = -INFINITY;
        for (int64_t r = s[i]; r < e[i]; r++) {
            float v = half ? dot_half((const uint16_t *)matrix->buf + r * dim, q, dim)
                           : dot_float((const float *)matrix->buf + r * dim, q, dim);
            if (v > top || r == s[i]) top = v;
        }
        best[i] = top;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    return result;
}


/* window_coverage(terms, unit_start, paragraph_units, numbers, query, weights, window, out):
 * for each paragraph numbers[i], the best share of the question's weighted tokens that any
 * `window` adjacent units (sentences) of it hold together, clipped to 1; 0 without units.
 * Units hold sorted unique int32 vocabulary ids; the query's ids are sorted and unique.
 * embeddings/sentence_terms.py computes the same in numpy (0.6 ms a question at 100k
 * paragraphs: a presence matrix, the windows and a product, over 1,500 units). */
static PyObject *window_coverage(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objs[7];
    Py_ssize_t window;
    if (!PyArg_ParseTuple(args, "OOOOOOnO:window_coverage", &objs[0], &objs[1], &objs[2],
                          &objs[3], &objs[4], &objs[5], &window, &objs[6]))
        return NULL;
    Py_buffer views[7];
    int got = 0;
    unsigned char *held = NULL;
    PyObject *result = NULL;
    for (; got < 7; got++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (got == 6 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(objs[got], &views[got], flags) < 0) goto done;
        if (views[got].ndim != 1) {
            PyErr_SetString(PyExc_ValueError, "window_coverage: every array must be 1-D");
            goto done;
        }
    }
    Py_buffer *terms = &views[0], *unit_start = &views[1], *paragraph_units = &views[2],
              *numbers = &views[3], *query = &views[4], *weights = &views[5], *out = &views[6];
    if (!is_format(terms, "i") || terms->itemsize != 4 || !is_format(unit_start, "qlQL")
        || unit_start->itemsize != 8 || !is_format(paragraph_units, "qlQL")
        || paragraph_units->itemsize != 8 || !is_format(numbers, "qlQL") || numbers->itemsize != 8
        || !is_format(query, "qlQL") || query->itemsize != 8 || !is_format(weights, "d")
        || !is_format(out, "d") || weights->shape[0] != query->shape[0]
        || out->shape[0] != numbers->shape[0] || window < 1) {
        PyErr_SetString(PyExc_ValueError, "window_coverage: int32 terms, int64 offsets, numbers "
                        "and query, float64 weights and out of the numbers' length, window >= 1");
        goto done;
    }
    const int32_t *t = terms->buf;
    const int64_t *us = unit_start->buf, *pu = paragraph_units->buf, *num = numbers->buf,
                  *q = query->buf;
    const double *w = weights->buf;
    double *best = out->buf;
    Py_ssize_t nq = query->shape[0], n = numbers->shape[0];
    Py_ssize_t paragraphs = paragraph_units->shape[0] - 1, units = unit_start->shape[0] - 1;
    double total = 0.0;
    for (Py_ssize_t j = 0; j < nq; j++) total += w[j];
    for (Py_ssize_t i = 0; i < n; i++) {
        if (num[i] < 0 || num[i] >= paragraphs || pu[num[i]] < 0 || pu[num[i]] > pu[num[i] + 1]
            || pu[num[i] + 1] > units) {
            PyErr_Format(PyExc_IndexError, "window_coverage: paragraph %lld is outside the index",
                         (long long)num[i]);
            goto done;
        }
        for (int64_t u = pu[num[i]]; u < pu[num[i] + 1]; u++) {
            if (us[u] < 0 || us[u] > us[u + 1] || us[u + 1] > terms->shape[0]) {
                PyErr_SetString(PyExc_IndexError, "window_coverage: unit offsets outside the terms");
                goto done;
            }
        }
    }
    held = PyMem_Malloc(nq > 0 ? (size_t)nq : 1);
    if (held == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t first = pu[num[i]], last = pu[num[i] + 1];
        double top = 0.0;
        if (nq > 0 && total > 0.0) {
            for (int64_t u = first; u < last; u++) {
                memset(held, 0, (size_t)nq);
                int64_t end = u + window < last ? u + window : last;
                for (int64_t v = u; v < end; v++) {
                    /* Both sorted: one merge marks the query tokens unit v holds. */
                    Py_ssize_t j = 0;
                    for (int64_t k = us[v]; k < us[v + 1] && j < nq; k++) {
                        while (j < nq && q[j] < t[k]) j++;
                        if (j < nq && q[j] == t[k]) held[j] = 1;
                    }
                }
                double sum = 0.0;
                for (Py_ssize_t j = 0; j < nq; j++)
                    if (held[j]) sum += w[j];
                double share = sum / total;
                if (share > 1.0) share = 1.0;  /* rounding can pass 1 for a full window */
                if (share > top) top = share;
            }
        }
        best[i] = top;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(held);
    for (int i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"best_rows", best_rows, METH_VARARGS,
     "best_rows(matrix, starts, ends, query, out, empty): out[i] = the largest product of query "
     "with rows starts[i]:ends[i] of matrix (float16 or float32), empty for an empty run."},
    {"window_coverage", window_coverage, METH_VARARGS,
     "window_coverage(terms, unit_start, paragraph_units, numbers, query, weights, window, out): "
     "out[i] = the best weighted share of the query's tokens that `window` adjacent units of "
     "paragraph numbers[i] hold (embeddings/sentence_terms.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "embeddings._rows",
                                    "Runs of float16/float32 rows against a query (half.py).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rows(void) {
#ifdef DARI_X86
    /* DARI_ROWS_KERNEL=plain keeps the portable loops (the tests compare both). */
    const char *wanted = getenv("DARI_ROWS_KERNEL");
    __builtin_cpu_init();
    if (!(wanted && strcmp(wanted, "plain") == 0) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c")) {
        dot_half = dot_half_avx2;
        dot_float = dot_float_avx2;
        kernel = "avx2";
    }
#endif
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "KERNEL", kernel) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
