package dev.steadyrun.protocol;

/** A GPU as the agent found it at registration. */
public record GpuInfo(int index, String uuid, String model, long memoryMiB) {
}
