package dev.steadyrun.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.OptionalInt;

import org.junit.jupiter.api.Test;

class PeerCheckTest {

    @Test
    void aRankThatReachesNeitherNeighbourIsTheOneCutOff() {
        assertThat(new PeerCheck(1, 3, List.of(0, 2), List.of()).cutOffRank()).hasValue(1);
    }

    @Test
    void aRankThatReachesOneNeighbourNamesTheOther() {
        assertThat(new PeerCheck(2, 4, List.of(1), List.of(3)).cutOffRank()).hasValue(1);
        assertThat(new PeerCheck(0, 3, List.of(1), List.of(2)).cutOffRank()).hasValue(1);
    }

    @Test
    void everyoneAnsweringOrTwoRanksNameNobody() {
        assertThat(new PeerCheck(0, 3, List.of(), List.of(1, 2)).cutOffRank()).isEqualTo(OptionalInt.empty());
        assertThat(new PeerCheck(0, 2, List.of(1), List.of()).cutOffRank()).as("two ranks: either side")
                .isEqualTo(OptionalInt.empty());
    }

    @Test
    void theLineIsFoundInALogTailAndReadBack() {
        PeerCheck check = new PeerCheck(2, 3, List.of(1), List.of(0));
        List<String> tail = List.of("error: data parallel: rank 2 of generation 1: nothing from predecessor rank 1",
                check.line(), "a log line after it");
        assertThat(PeerCheck.find(tail)).contains(check);
        assertThat(PeerCheck.find(List.of("no check here"))).isEmpty();
    }

    @Test
    void aMalformedOrImpossibleCheckIsIgnored() {
        assertThat(PeerCheck.find(List.of(PeerCheck.PREFIX + "{not json"))).isEmpty();
        // rank 5 is no neighbour of rank 0 in a ring of 8: a forged line cannot name an arbitrary rank
        assertThat(PeerCheck.find(List.of(PeerCheck.PREFIX
                + "{\"rank\":0,\"worldSize\":8,\"unreachable\":[5],\"reachable\":[1]}"))).isEmpty();
        assertThatThrownBy(() -> new PeerCheck(3, 3, List.of(), List.of())).isInstanceOf(IllegalArgumentException.class);
    }
}
