/* tcpconnect sends struct conn_event of ../_sock.bpf.h. */
#ifndef PYBPF_TCPCONNECT_H
#define PYBPF_TCPCONNECT_H
#endif
