/* ProcessPrng for Wine versions that lack bcryptprimitives.dll (Debian's Wine 8).
 *
 * Rust's standard library on Windows takes its random bytes (the seeds of HashMap) from
 * ProcessPrng in bcryptprimitives.dll; a test binary cross-compiled for Windows does not start
 * under a Wine without it. This DLL answers with RtlGenRandom (advapi32's SystemFunction036),
 * which Wine has. Built with mingw and copied into the Wine prefix by `make test-windows`;
 * never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
