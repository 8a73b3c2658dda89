/* The C half of hello-ext: add(a, b) and platform(), which says what the
 * extension was compiled for. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long long a, b;
    if (!PyArg_ParseTuple(args, "LL", &a, &b)) {
        return NULL;
    }
    return PyLong_FromLongLong(a + b);
}

static PyObject *platform(PyObject *self, PyObject *unused) {
#if defined(__x86_64__)
    return PyUnicode_FromString("x86_64");
#elif defined(__aarch64__)
    return PyUnicode_FromString("aarch64");
#else
    return PyUnicode_FromString("other");
#endif
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "add(a, b) -> a + b, computed in C."},
    {"platform", platform, METH_NOARGS, "The CPU the extension was compiled for."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "hello-ext's C functions.", -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
