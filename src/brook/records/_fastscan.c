/* The uncompressed hot path of record_scan.py's `_scan_whole_records`, in C.
 *
 * scan_plain(data, pos, index, count) -> (pos, index)
 *
 * Walks DefaultRecord's layout (records.py documents it) from `pos`, record `index` on, while a record
 * lies whole in `data` and is well formed:
 *
 *   length varint | attributes int8 | timestamp_delta varint | offset_delta varint (must be `index`)
 *   | key_length varint | key | value_length varint | value | headers_count varint
 *   | headers (key_length varint, key, value_length varint, value)...
 *
 * with every field inside the record's `length` bytes. It returns the position and index of the first
 * record it did not accept: the end, a record cut by the end of `data`, or anything unusual at all (a
 * bad length, a wrong offset delta, a field past the record, a varint over 9 bytes, ...). It never
 * raises and never reads outside `data`; the Python scan resumes at that record, so what is rejected
 * and every error message stay the Python scan's. Accepting is the only decision made here, and it is
 * made only for records the Python scan accepts with the same end. No per-record checks (timestamps,
 * keys): when a topic needs them the Python scan runs alone. The GIL is released while scanning big
 * sections (the validation thread's), kept for small ones (the event loop's).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Below this many bytes the scan takes microseconds: keep the GIL. Giving it up would let a busy thread take
 * it, and the event loop's thread would wait up to a switch interval (5 ms) to get it back. */
#define RELEASE_GIL_BYTES (256 * 1024)

/* A zigzag varint of at most 9 bytes (63 bits: no overflow) that ends before `end`; 0 if not. */
static int read_varint(const unsigned char *data, Py_ssize_t *p, Py_ssize_t end, int64_t *out)
{
    uint64_t n = 0;
    int shift = 0;
    Py_ssize_t q = *p;
    for (int i = 0; i < 9; i++) {
        if (q >= end)
            return 0;
        unsigned char b = data[q++];
        n |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *out = (int64_t)(n >> 1) ^ -(int64_t)(n & 1);
            *p = q;
            return 1;
        }
        shift += 7;
    }
    return 0;
}

/* One whole, well-formed record at `pos`; its end in *next, or 0. */
static int accept_record(const unsigned char *data, Py_ssize_t size, Py_ssize_t pos, int64_t index,
                         Py_ssize_t *next)
{
    Py_ssize_t p = pos;
    int64_t length, value;
    if (!read_varint(data, &p, size, &length) || length <= 0 || length > size - p)
        return 0;
    Py_ssize_t end = p + (Py_ssize_t)length;
    p += 1; /* attributes: unused in v2 */
    if (p > end || !read_varint(data, &p, end, &value)) /* timestamp delta */
        return 0;
    if (!read_varint(data, &p, end, &value) || value != index) /* offset delta */
        return 0;
    for (int field = 0; field < 2; field++) { /* key, then value: a negative length is null */
        if (!read_varint(data, &p, end, &value))
            return 0;
        if (value > 0) {
            if (value > end - p)
                return 0;
            p += (Py_ssize_t)value;
        }
    }
    int64_t headers;
    if (p >= end || !read_varint(data, &p, end, &headers) || headers < 0 || headers > end - p)
        return 0;
    for (int64_t h = 0; h < headers; h++) {
        if (!read_varint(data, &p, end, &value) || value < 0 || value > end - p) /* header key */
            return 0;
        p += (Py_ssize_t)value;
        if (!read_varint(data, &p, end, &value)) /* header value: negative is null */
            return 0;
        if (value > 0) {
            if (value > end - p)
                return 0;
            p += (Py_ssize_t)value;
        }
    }
    if (p != end)
        return 0;
    *next = end;
    return 1;
}

static PyObject *scan_plain(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos;
    long long index, count;
    if (!PyArg_ParseTuple(args, "y*nLL", &view, &pos, &index, &count))
        return NULL;
    const unsigned char *data = (const unsigned char *)view.buf;
    Py_ssize_t size = view.len;
    if (pos < 0 || pos > size || index < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "position or index out of range");
        return NULL;
    }
    Py_ssize_t next;
    if (size - pos >= RELEASE_GIL_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        while (index < count && pos < size && accept_record(data, size, pos, (int64_t)index, &next)) {
            pos = next;
            index++;
        }
        Py_END_ALLOW_THREADS
    } else {
        while (index < count && pos < size && accept_record(data, size, pos, (int64_t)index, &next)) {
            pos = next;
            index++;
        }
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("nL", pos, index);
}

static PyMethodDef methods[] = {
    {"scan_plain", scan_plain, METH_VARARGS,
     "scan_plain(data, pos, index, count) -> (pos, index) of the first record not accepted"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastscan(void) { return PyModule_Create(&module); }
