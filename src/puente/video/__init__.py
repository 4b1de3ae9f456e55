"""Video rooms for virtual visits: who may enter (short-lived room tokens) and
how the two browsers find each other (the signaling hub).

The media itself never passes through Puente: the browsers hold a WebRTC
peer-to-peer call, helped by the STUN/TURN servers in ``PUENTE_ICE_SERVERS``
(docs/video.md). Puente carries only the signaling, the chat and the files.
"""
