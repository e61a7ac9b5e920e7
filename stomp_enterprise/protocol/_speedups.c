/*
 * Optional C accelerator for stomp_enterprise.protocol.parser (the pure-Python parser is the
 * reference and stays complete on its own).
 *
 * scan() splits the *common* frames of a buffer: LF line ends, a known command, header lines
 * with a colon after a non-empty name, valid escapes, valid UTF-8, a complete body within the
 * limits. At the first byte that is anything else (a CR, an incomplete frame, a limit, an
 * error of any kind) it stops and returns its position: the Python parser handles that frame
 * and every error, with its messages and offsets, then calls scan() again. So scan() never
 * raises on input and never decides anything the Python code would decide differently; the
 * test suite checks the two against each other on generated and mutated streams.
 *
 * serialize() encodes the common frames (every header a (str, str) pair the version can
 * express); for anything else it returns None and the Python serializer, the definition,
 * decides and raises. The differential tests compare the two on generated frames.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_LENGTH_DIGITS 18 /* content-length values up to 10**18 - 1 fit a Py_ssize_t */

/* The first "\n\n" at or after p (p points at a '\n' or earlier), or NULL. */
static const char *
find_blank_line(const char *p, const char *end)
{
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || nl + 1 >= end) {
            return NULL;
        }
        if (nl[1] == '\n') {
            return nl;
        }
        p = nl + 1;
    }
    return NULL;
}

/* Every backslash starts an escape this version defines (\c \n \\, and \r in 1.2). */
static int
escapes_valid(const char *p, const char *end, int v12)
{
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (p + 1 >= end) {
            return 0;
        }
        char next = p[1];
        if (!(next == 'c' || next == 'n' || next == '\\' || (v12 && next == 'r'))) {
            return 0;
        }
        p += 2;
        if (p >= end) {
            break;
        }
    }
    return 1;
}

/*
 * scan(buf, pos, frames, version, commands, unescaped, max_header_count, max_header_length,
 *      max_frame_size, new_frame) -> (pos, heartbeats)
 *
 * Appends new_frame(command, head, escaped, body) to `frames` for each common frame from
 * `pos` on; `commands` maps each known command to its canonical str; `unescaped` holds the
 * commands whose headers are never escaped.
 */
static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "scan() takes exactly 10 arguments");
        return NULL;
    }
    PyObject *buf = args[0], *frames = args[2], *version = args[3];
    PyObject *commands = args[4], *unescaped = args[5], *new_frame = args[9];
    if (!PyBytes_CheckExact(buf) || !PyList_CheckExact(frames) || !PyUnicode_Check(version) ||
        !PyDict_CheckExact(commands) || !PyAnySet_Check(unescaped)) {
        PyErr_SetString(PyExc_TypeError, "scan(): bad argument types");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    Py_ssize_t max_count = PyLong_AsSsize_t(args[6]);
    Py_ssize_t max_line = PyLong_AsSsize_t(args[7]);
    Py_ssize_t max_frame = PyLong_AsSsize_t(args[8]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    int escaping = PyUnicode_CompareWithASCIIString(version, "1.0") != 0;
    int v12 = PyUnicode_CompareWithASCIIString(version, "1.2") == 0;

    const char *data = PyBytes_AS_STRING(buf);
    const Py_ssize_t end = PyBytes_GET_SIZE(buf);
    if (pos < 0 || pos > end) {
        PyErr_SetString(PyExc_ValueError, "scan(): pos out of range");
        return NULL;
    }
    Py_ssize_t beats = 0;
    /* the last command seen and its canonical str: a stream is mostly one command */
    const char *last_cmd = NULL;
    Py_ssize_t last_len = 0;
    PyObject *last_command = NULL; /* borrowed from `commands` */

    while (pos < end) {
        char first = data[pos];
        if (first == '\n') {
            beats++;
            pos++;
            continue;
        }
        if (first == '\r') {
            break;
        }
        const char *start = data + pos;
        const char *stop_all = data + end;
        const char *cmd_end = memchr(start, '\n', (size_t)(end - pos));
        if (cmd_end == NULL) {
            break;
        }
        const char *hend = find_blank_line(cmd_end, stop_all);
        if (hend == NULL) {
            break;
        }
        if (hend - start > max_line || memchr(start, '\r', (size_t)(hend - start)) != NULL) {
            break;
        }
        /* the command: A-Z only, a known one */
        Py_ssize_t cmd_len = cmd_end - start;
        PyObject *command;
        if (last_command != NULL && cmd_len == last_len && memcmp(start, last_cmd, cmd_len) == 0) {
            command = last_command;
        }
        else {
            if (cmd_len == 0 || cmd_len > 16) {
                break;
            }
            Py_ssize_t i;
            for (i = 0; i < cmd_len && start[i] >= 'A' && start[i] <= 'Z'; i++) {
            }
            if (i != cmd_len) {
                break;
            }
            PyObject *key = PyUnicode_FromStringAndSize(start, cmd_len);
            if (key == NULL) {
                return NULL;
            }
            command = PyDict_GetItemWithError(commands, key);
            Py_DECREF(key);
            if (command == NULL) {
                if (PyErr_Occurred()) {
                    return NULL;
                }
                break;
            }
            last_command = command;
            last_cmd = start;
            last_len = cmd_len;
        }
        /* the header lines: [rest, hend) */
        const char *rest = cmd_end + 1;
        if (rest > hend) {
            rest = hend; /* no headers: the command line ends at the blank line */
        }
        Py_ssize_t lines = 0, length = -1;
        int bad = 0;
        const char *line = rest;
        while (rest < hend) {
            const char *eol = memchr(line, '\n', (size_t)(hend - line));
            const char *line_end = eol != NULL ? eol : hend;
            const char *colon = memchr(line, ':', (size_t)(line_end - line));
            if (colon == NULL || colon == line) {
                bad = 1;
                break;
            }
            if (length < 0 && colon - line == 14 && memcmp(line, "content-length", 14) == 0) {
                const char *digit = colon + 1;
                Py_ssize_t n = line_end - digit;
                if (n < 1 || n > MAX_LENGTH_DIGITS) {
                    bad = 1;
                    break;
                }
                length = 0;
                for (; digit < line_end; digit++) {
                    if (*digit < '0' || *digit > '9') {
                        bad = 1;
                        break;
                    }
                    length = length * 10 + (*digit - '0');
                }
                if (bad) {
                    break;
                }
            }
            lines++;
            if (eol == NULL) {
                break;
            }
            line = eol + 1;
        }
        if (bad || (lines > 0 && lines - 1 >= max_count)) {
            break;
        }
        PyObject *escaped = Py_None;
        if (escaping && rest < hend && memchr(rest, '\\', (size_t)(hend - rest)) != NULL) {
            int plain = PySet_Contains(unescaped, command);
            if (plain < 0) {
                return NULL;
            }
            if (!plain) {
                if (!escapes_valid(rest, hend, v12)) {
                    break;
                }
                escaped = version;
            }
        }
        /* the body */
        Py_ssize_t bstart = (hend - data) + 2, stop;
        if (length >= 0) {
            stop = bstart + length;
            if (stop - pos > max_frame || stop >= end || data[stop] != '\0') {
                break;
            }
        }
        else {
            const char *nul = memchr(data + bstart, '\0', (size_t)(end - bstart));
            if (nul == NULL) {
                break;
            }
            stop = nul - data;
            if (stop - pos > max_frame) {
                break;
            }
        }
        PyObject *head = PyUnicode_DecodeUTF8(rest, hend - rest, NULL);
        if (head == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear(); /* invalid UTF-8: the Python parser reports it */
                break;
            }
            return NULL;
        }
        PyObject *body = PyBytes_FromStringAndSize(data + bstart, stop - bstart);
        if (body == NULL) {
            Py_DECREF(head);
            return NULL;
        }
        PyObject *call_args[4] = {command, head, escaped, body};
        PyObject *frame = PyObject_Vectorcall(new_frame, call_args, 4, NULL);
        Py_DECREF(head);
        Py_DECREF(body);
        if (frame == NULL) {
            return NULL;
        }
        int failed = PyList_Append(frames, frame);
        Py_DECREF(frame);
        if (failed) {
            return NULL;
        }
        pos = stop + 1;
    }
    return Py_BuildValue("(nn)", pos, beats);
}

/* ------------------------------------------------------------------ serializer */

/* A growable byte buffer for serialize(). */
typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t cap;
    char small[1024];
} buffer_t;

static int
buffer_reserve(buffer_t *b, Py_ssize_t extra)
{
    if (b->size + extra <= b->cap) {
        return 0;
    }
    Py_ssize_t cap = b->cap * 2;
    if (cap < b->size + extra) {
        cap = b->size + extra;
    }
    char *data;
    if (b->data == b->small) {
        data = PyMem_Malloc((size_t)cap);
        if (data != NULL) {
            memcpy(data, b->small, (size_t)b->size);
        }
    }
    else {
        data = PyMem_Realloc(b->data, (size_t)cap);
    }
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static void
buffer_free(buffer_t *b)
{
    if (b->data != b->small) {
        PyMem_Free(b->data);
    }
}

/*
 * Append one header name or value, escaped for `mode` (0: never escaped, i.e. STOMP 1.0 or
 * CONNECT/CONNECTED; 1: 1.1; 2: 1.2). Returns 1 when it was appended, 0 when the item is
 * something the Python serializer must decide (refuse or report), -1 on a memory error.
 */
static int
append_item(buffer_t *b, const char *p, Py_ssize_t n, int mode, int name)
{
    if (buffer_reserve(b, 2 * n) < 0) {
        return -1;
    }
    char *out = b->data + b->size;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = p[i];
        switch (c) {
        case '\0':
            return 0;
        case '\\':
            if (mode) {
                *out++ = '\\';
                *out++ = '\\';
                continue;
            }
            break;
        case '\n':
            if (!mode) {
                return 0;
            }
            *out++ = '\\';
            *out++ = 'n';
            continue;
        case '\r':
            if (mode != 2) {
                return 0;
            }
            *out++ = '\\';
            *out++ = 'r';
            continue;
        case ':':
            if (!mode) {
                if (name) {
                    return 0;
                }
                break;
            }
            *out++ = '\\';
            *out++ = 'c';
            continue;
        default:
            break;
        }
        *out++ = c;
    }
    b->size = out - b->data;
    return 1;
}

/*
 * serialize(command, pairs, body, mode, content_length) -> bytes | None
 *
 * The wire bytes of a frame whose command the caller has checked, or None when any header is
 * unusual (not a (str, str) pair, a NUL, what `mode` cannot express, an empty name, a lone
 * surrogate, a content-length header that disagrees with the body): the Python serializer,
 * which is the definition, then decides and raises. Never raises on input.
 */
static PyObject *
serialize(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyUnicode_CheckExact(args[0]) || !PyBytes_CheckExact(args[2])) {
        Py_RETURN_NONE;
    }
    PyObject *pairs = args[1];
    if (!PyList_CheckExact(pairs) && !PyTuple_CheckExact(pairs)) {
        Py_RETURN_NONE;
    }
    long mode = PyLong_AsLong(args[3]);
    int content_length = PyObject_IsTrue(args[4]);
    if ((mode == -1 && PyErr_Occurred()) || content_length < 0 || mode < 0 || mode > 2) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    Py_ssize_t command_size;
    const char *command = PyUnicode_AsUTF8AndSize(args[0], &command_size);
    if (command == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    const char *body = PyBytes_AS_STRING(args[2]);
    Py_ssize_t body_size = PyBytes_GET_SIZE(args[2]);
    buffer_t b;
    b.data = b.small;
    b.size = 0;
    b.cap = (Py_ssize_t)sizeof(b.small);
    PyObject *result = NULL;
    int declared = 0;
    char digits[32];
    int digits_size = snprintf(digits, sizeof(digits), "%zd", body_size);
    if (buffer_reserve(&b, command_size + 1) < 0) {
        goto done;
    }
    memcpy(b.data, command, (size_t)command_size);
    b.data[command_size] = '\n';
    b.size = command_size + 1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(pairs);
    PyObject **items = PySequence_Fast_ITEMS(pairs);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = items[i];
        if ((!PyTuple_CheckExact(pair) && !PyList_CheckExact(pair)) ||
            PySequence_Fast_GET_SIZE(pair) != 2) {
            goto unusual;
        }
        PyObject *name = PySequence_Fast_GET_ITEM(pair, 0);
        PyObject *value = PySequence_Fast_GET_ITEM(pair, 1);
        if (!PyUnicode_CheckExact(name) || !PyUnicode_CheckExact(value)) {
            goto unusual;
        }
        Py_ssize_t name_size, value_size;
        const char *name_text = PyUnicode_AsUTF8AndSize(name, &name_size);
        if (name_text == NULL) {
            PyErr_Clear();
            goto unusual;
        }
        const char *value_text = PyUnicode_AsUTF8AndSize(value, &value_size);
        if (value_text == NULL) {
            PyErr_Clear();
            goto unusual;
        }
        if (name_size == 0) {
            goto unusual;
        }
        if (!declared && name_size == 14 && memcmp(name_text, "content-length", 14) == 0) {
            if (value_size != digits_size || memcmp(value_text, digits, (size_t)digits_size)) {
                goto unusual;
            }
            declared = 1;
        }
        int ok = append_item(&b, name_text, name_size, (int)mode, 1);
        if (ok <= 0) {
            if (ok < 0) {
                goto done;
            }
            goto unusual;
        }
        if (buffer_reserve(&b, 1) < 0) {
            goto done;
        }
        b.data[b.size++] = ':';
        ok = append_item(&b, value_text, value_size, (int)mode, 0);
        if (ok <= 0) {
            if (ok < 0) {
                goto done;
            }
            goto unusual;
        }
        if (buffer_reserve(&b, 1) < 0) {
            goto done;
        }
        b.data[b.size++] = '\n';
    }
    if (!declared && body_size &&
        (content_length || memchr(body, '\0', (size_t)body_size) != NULL)) {
        if (buffer_reserve(&b, 16 + digits_size) < 0) {
            goto done;
        }
        memcpy(b.data + b.size, "content-length:", 15);
        memcpy(b.data + b.size + 15, digits, (size_t)digits_size);
        b.size += 15 + digits_size;
        b.data[b.size++] = '\n';
    }
    result = PyBytes_FromStringAndSize(NULL, b.size + 1 + body_size + 1);
    if (result != NULL) {
        char *out = PyBytes_AS_STRING(result);
        memcpy(out, b.data, (size_t)b.size);
        out[b.size] = '\n';
        memcpy(out + b.size + 1, body, (size_t)body_size);
        out[b.size + 1 + body_size] = '\0';
    }
    goto done;
unusual:
    result = Py_None;
    Py_INCREF(result);
done:
    buffer_free(&b);
    return result;
}

/* ------------------------------------------------------------------ cached SEND heads */

#define SEND_VALUES_ON_STACK 16

/* A header value that needs no escaping in any version: no backslash, colon, CR, LF or NUL. */
static int
plain_value(const char *p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' || c == ':' || c == '\n' || c == '\r' || c == '\0') {
            return 0;
        }
    }
    return 1;
}

/*
 * send_frame(pieces, lead, headers, body, content_length) -> bytes | None
 *
 * A whole SEND frame from a cached head (session.py): `pieces` is the head cut where the
 * values go (its names already validated and escaped by the Python serializer, the
 * definition), `lead` the values of the library's own headers (transaction, receipt) and
 * `headers` a dict whose values follow in order; then the content-length line when due, the
 * blank line, `body` and the NUL. None when the general path must decide: anything but exact
 * str values, a value that would need escaping (or refusing: a NUL) in some version, a lone
 * surrogate, or a count that does not match the pieces. Never raises on input.
 */
static PyObject *
send_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyTuple_CheckExact(args[0]) || !PyTuple_CheckExact(args[1]) ||
        !PyBytes_CheckExact(args[3])) {
        Py_RETURN_NONE;
    }
    PyObject *pieces = args[0];
    PyObject *lead = args[1];
    PyObject *headers = args[2];
    if (headers != Py_None && !PyDict_CheckExact(headers)) {
        Py_RETURN_NONE;
    }
    int content_length = PyObject_IsTrue(args[4]);
    if (content_length < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    Py_ssize_t leading = PyTuple_GET_SIZE(lead);
    Py_ssize_t count = leading + (headers == Py_None ? 0 : PyDict_GET_SIZE(headers));
    if (PyTuple_GET_SIZE(pieces) != count + 1) {
        Py_RETURN_NONE;
    }
    const char *small_text[SEND_VALUES_ON_STACK];
    Py_ssize_t small_size[SEND_VALUES_ON_STACK];
    const char **text = small_text;
    Py_ssize_t *sizes = small_size;
    if (count > SEND_VALUES_ON_STACK) {
        text = PyMem_Malloc((size_t)count * sizeof(*text));
        sizes = PyMem_Malloc((size_t)count * sizeof(*sizes));
        if (text == NULL || sizes == NULL) {
            PyMem_Free(text);
            PyMem_Free(sizes);
            return PyErr_NoMemory();
        }
    }
    PyObject *result = NULL;
    Py_ssize_t total = 0;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i < leading) {
            value = PyTuple_GET_ITEM(lead, i);
        }
        else if (!PyDict_Next(headers, &pos, &key, &value)) {
            goto unusual; /* cannot happen: the size was read above and nothing ran since */
        }
        if (!PyUnicode_CheckExact(value)) {
            goto unusual;
        }
        if (PyUnicode_IS_ASCII(value)) {
            text[i] = (const char *)PyUnicode_DATA(value);
            sizes[i] = PyUnicode_GET_LENGTH(value);
        }
        else {
            text[i] = PyUnicode_AsUTF8AndSize(value, &sizes[i]);
            if (text[i] == NULL) {
                PyErr_Clear();
                goto unusual;
            }
        }
        if (!plain_value(text[i], sizes[i])) {
            goto unusual;
        }
        total += sizes[i];
    }
    for (Py_ssize_t i = 0; i <= count; i++) {
        PyObject *piece = PyTuple_GET_ITEM(pieces, i);
        if (!PyBytes_CheckExact(piece)) {
            goto unusual;
        }
        total += PyBytes_GET_SIZE(piece);
    }
    const char *body = PyBytes_AS_STRING(args[3]);
    Py_ssize_t body_size = PyBytes_GET_SIZE(args[3]);
    char tail[48];
    int tail_size = 1;
    tail[0] = '\n';
    if (body_size && (content_length || memchr(body, '\0', (size_t)body_size) != NULL)) {
        tail_size = snprintf(tail, sizeof(tail), "content-length:%zd\n\n", body_size);
    }
    total += tail_size + body_size + 1;
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL) {
        goto done;
    }
    char *out = PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i <= count; i++) {
        PyObject *piece = PyTuple_GET_ITEM(pieces, i);
        Py_ssize_t size = PyBytes_GET_SIZE(piece);
        memcpy(out, PyBytes_AS_STRING(piece), (size_t)size);
        out += size;
        if (i < count) {
            memcpy(out, text[i], (size_t)sizes[i]);
            out += sizes[i];
        }
    }
    memcpy(out, tail, (size_t)tail_size);
    out += tail_size;
    memcpy(out, body, (size_t)body_size);
    out[body_size] = '\0';
    goto done;
unusual:
    result = Py_None;
    Py_INCREF(result);
done:
    if (text != small_text) {
        PyMem_Free(text);
        PyMem_Free(sizes);
    }
    return result;
}

/* ------------------------------------------------------------------ header mapping */

/*
 * Header strings seen before. Every frame of a stream repeats the same header names, and
 * most values too (destination, subscription, content-type, persistent, priority...): a
 * slot keyed by a name's length and bytes keeps the name's str object (its hash already
 * computed, so the dict insert does not hash it again) and the last value decoded for it.
 * A hit costs a memcmp instead of an allocation, a decode and a hash. Only ASCII strings
 * up to CACHE_MAX bytes are kept; strings are immutable, so sharing them between frames is
 * invisible to callers. Slots are replaced on a miss (one reference each, held until the
 * next miss of that slot); the GIL serializes every access.
 */
#define CACHE_SLOTS 64
#define CACHE_MAX 64

static PyObject *name_cache[CACHE_SLOTS];
static PyObject *value_cache[CACHE_SLOTS];

static Py_ssize_t
cache_slot(const char *text, Py_ssize_t size)
{
    if (size == 0) {
        return 0;
    }
    unsigned int key = (unsigned int)size * 31u;
    key = key * 33u + (unsigned char)text[0];
    key = key * 33u + (unsigned char)text[size / 2];
    key = key * 33u + (unsigned char)text[size - 1];
    return (Py_ssize_t)(key % CACHE_SLOTS);
}

/* A new reference to the str of `size` UTF-8 bytes at `text`, from `*slot` when it holds
 * exactly that text; NULL with an exception set when the bytes do not decode. */
static PyObject *
cached_str(PyObject **slot, const char *text, Py_ssize_t size)
{
    PyObject *cached = *slot;
    if (cached != NULL && PyUnicode_GET_LENGTH(cached) == size
        && memcmp(PyUnicode_DATA(cached), text, (size_t)size) == 0) {
        Py_INCREF(cached);
        return cached;
    }
    PyObject *fresh = PyUnicode_DecodeUTF8(text, size, NULL);
    if (fresh != NULL && size <= CACHE_MAX && PyUnicode_IS_ASCII(fresh)) {
        Py_INCREF(fresh);
        Py_XSETREF(*slot, fresh);
    }
    return fresh;
}

/*
 * headers(head, mode) -> mappingproxy | None
 *
 * The read-only header mapping of a parsed frame from its validated header text (lines
 * joined by LF, no command line): the first of a repeated header wins, wire order is kept,
 * and values are unescaped for `mode` (0: not escaped; 1: 1.1; 2: 1.2). None when a line
 * has no colon, a name holds a backslash, or an escape is not one the mode defines:
 * Frame.headers' Python code, the definition, then decides.
 */
static PyObject *
headers(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_CheckExact(args[0]) || !PyLong_CheckExact(args[1])) {
        Py_RETURN_NONE;
    }
    long mode = PyLong_AsLong(args[1]);
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(args[0], &size);
    if (text == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *result = PyDict_New();
    if (result == NULL) {
        return NULL;
    }
    char small[256];
    char *scratch = small;
    Py_ssize_t scratch_size = (Py_ssize_t)sizeof(small);
    const char *p = text;
    const char *end = text + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon == NULL || (mode && memchr(p, '\\', (size_t)(colon - p)) != NULL)) {
            goto unusual;
        }
        const char *value = colon + 1;
        Py_ssize_t value_size = line_end - value;
        if (mode && memchr(value, '\\', (size_t)value_size) != NULL) {
            if (value_size > scratch_size) {
                char *bigger = PyMem_Malloc((size_t)value_size);
                if (bigger == NULL) {
                    PyErr_NoMemory();
                    goto error;
                }
                if (scratch != small) {
                    PyMem_Free(scratch);
                }
                scratch = bigger;
                scratch_size = value_size;
            }
            char *out = scratch;
            for (const char *q = value; q < line_end; q++) {
                if (*q != '\\') {
                    *out++ = *q;
                    continue;
                }
                if (++q >= line_end) {
                    goto unusual;
                }
                switch (*q) {
                case '\\':
                    *out++ = '\\';
                    break;
                case 'c':
                    *out++ = ':';
                    break;
                case 'n':
                    *out++ = '\n';
                    break;
                case 'r':
                    if (mode != 2) {
                        goto unusual;
                    }
                    *out++ = '\r';
                    break;
                default:
                    goto unusual;
                }
            }
            value = scratch;
            value_size = out - scratch;
        }
        Py_ssize_t slot = cache_slot(p, colon - p);
        PyObject *name_obj = cached_str(&name_cache[slot], p, colon - p);
        if (name_obj == NULL) {
            goto error;
        }
        PyObject *value_obj = cached_str(&value_cache[slot], value, value_size);
        if (value_obj == NULL) {
            Py_DECREF(name_obj);
            goto error;
        }
        PyObject *kept = PyDict_SetDefault(result, name_obj, value_obj); /* first one wins */
        Py_DECREF(name_obj);
        Py_DECREF(value_obj);
        if (kept == NULL) {
            goto error;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (scratch != small) {
        PyMem_Free(scratch);
    }
    PyObject *proxy = PyDictProxy_New(result);
    Py_DECREF(result);
    return proxy;
unusual:
    PyErr_Clear();
    if (scratch != small) {
        PyMem_Free(scratch);
    }
    Py_DECREF(result);
    Py_RETURN_NONE;
error:
    if (scratch != small) {
        PyMem_Free(scratch);
    }
    Py_DECREF(result);
    return NULL;
}

/*
 * sends(frames) -> (list, int) | None
 *
 * The SEND frames of a list of serialized frames (those starting with "SEND\n"), in order,
 * and their total size in bytes: the send tracker's bookkeeping per written batch
 * (core/outbox.py) without a Python-level call per frame. None when `frames` is not a list
 * or holds anything but bytes: the Python code, the definition, then decides.
 */
static PyObject *
sends(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1 || !PyList_CheckExact(args[0])) {
        Py_RETURN_NONE;
    }
    PyObject *frames = args[0];
    Py_ssize_t count = PyList_GET_SIZE(frames);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_CheckExact(PyList_GET_ITEM(frames, i))) {
            Py_RETURN_NONE;
        }
    }
    PyObject *result = PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *frame = PyList_GET_ITEM(frames, i);
        Py_ssize_t size = PyBytes_GET_SIZE(frame);
        if (size >= 5 && memcmp(PyBytes_AS_STRING(frame), "SEND\n", 5) == 0) {
            if (PyList_Append(result, frame) < 0) {
                Py_DECREF(result);
                return NULL;
            }
            total += size;
        }
    }
    PyObject *out = Py_BuildValue("(Nn)", result, total);
    return out;
}

static PyMethodDef speedups_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "Split the common frames of a buffer; stop at anything else (see the module source)."},
    {"serialize", (PyCFunction)(void (*)(void))serialize, METH_FASTCALL,
     "Wire bytes of a frame with usual headers, or None (see the module source)."},
    {"send_frame", (PyCFunction)(void (*)(void))send_frame, METH_FASTCALL,
     "A whole SEND frame from a cached head and header values, or None (see the source)."},
    {"headers", (PyCFunction)(void (*)(void))headers, METH_FASTCALL,
     "The read-only header mapping of a parsed frame's header text, or None (see the source)."},
    {"sends", (PyCFunction)(void (*)(void))sends, METH_FASTCALL,
     "The SEND frames of a list of frames and their total size, or None (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "stomp_enterprise.protocol._speedups",
    "Optional C accelerator for the frame parser and serializer.",
    -1,
    speedups_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&speedups_module);
}
