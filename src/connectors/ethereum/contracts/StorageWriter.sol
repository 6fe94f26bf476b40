// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// tpslab's contract-call workload: each call writes `n` fresh storage slots (the state growth
/// and SSTORE cost a real contract call carries), keyed by the caller and its call count.
contract StorageWriter {
    mapping(address => uint256) public calls;
    mapping(uint256 => uint256) public slots;

    function write(uint256 n) external {
        uint256 base = uint256(keccak256(abi.encode(msg.sender, calls[msg.sender]++)));
        for (uint256 i = 0; i < n; i++) slots[base + i] = block.number + 1;
    }
}
