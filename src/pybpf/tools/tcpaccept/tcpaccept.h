/* tcpaccept sends struct conn_event of ../_sock.bpf.h. */
#ifndef PYBPF_TCPACCEPT_H
#define PYBPF_TCPACCEPT_H
#endif
