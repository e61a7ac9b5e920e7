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

static PyMethodDef speedups_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "Split the common frames of a buffer; stop at anything else (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "stomp_enterprise.protocol._speedups",
    "Optional C accelerator for the frame parser.",
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
