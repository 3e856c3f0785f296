#include "textflag.h"

// Folding a 16-byte block B (its first 8 bytes H, its last 8 L, the
// first bits being the highest powers) over d bits: B·x^d modulo the
// polynomial is H·(x^(d+63) mod P)·x + L·(x^(d-1) mod P)·x, a 128-bit
// value, where PCLMULQDQ of bit-reflected operands supplies the ·x.
#define FOLD(k, x, tmp) \
	MOVO      x, tmp;      \
	PCLMULQDQ $0x00, k, x; \
	PCLMULQDQ $0x11, k, tmp; \
	PXOR      tmp, x

// func fold(reg uint64, p []byte, k *[4]uint64, out *[16]byte)
TEXT ·fold(SB), NOSPLIT, $0-48
	MOVQ reg+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DX
	MOVQ out+40(FP), DI

	MOVOU 0(DX), X8  // over 128 bits
	MOVOU 16(DX), X9 // over 512 bits

	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVQ  AX, X10
	PXOR  X10, X0
	ADDQ  $64, SI
	SUBQ  $64, CX

loop64:
	CMPQ CX, $64
	JB   combine
	FOLD(X9, X0, X4)
	FOLD(X9, X1, X5)
	FOLD(X9, X2, X6)
	FOLD(X9, X3, X7)
	MOVOU 0(SI), X10
	MOVOU 16(SI), X11
	MOVOU 32(SI), X12
	MOVOU 48(SI), X13
	PXOR  X10, X0
	PXOR  X11, X1
	PXOR  X12, X2
	PXOR  X13, X3
	ADDQ  $64, SI
	SUBQ  $64, CX
	JMP   loop64

combine:
	FOLD(X8, X0, X4)
	PXOR X0, X1
	FOLD(X8, X1, X4)
	PXOR X1, X2
	FOLD(X8, X2, X4)
	PXOR X2, X3

loop16:
	CMPQ CX, $16
	JB   done
	FOLD(X8, X3, X4)
	MOVOU 0(SI), X10
	PXOR  X10, X3
	ADDQ  $16, SI
	SUBQ  $16, CX
	JMP   loop16

done:
	MOVOU X3, 0(DI)
	RET
