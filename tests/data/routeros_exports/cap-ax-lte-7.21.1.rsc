# 2026-01-26 22:48:55 by RouterOS 7.21.1
# software id = Z6CN-1BES
#
# model = cAPGi-5HaxD2HaxD&EG12-EA
# serial number = HHG0AAF400V
/interface bridge
add admin-mac=F4:1E:57:9B:41:CB auto-mac=no comment=defconf name=bridge
/interface wifi
set [ find default-name=wifi1 ] channel.skip-dfs-channels=10min-cac configuration.country=Ukraine .mode=ap .ssid="2.1 MW SPP" disabled=no security.authentication-types=\
    wpa2-psk,wpa3-psk .ft=yes .ft-over-ds=yes .passphrase=redacted1
set [ find default-name=wifi2 ] channel.skip-dfs-channels=10min-cac configuration.country=Ukraine .mode=ap .ssid="2.1 MW SPP" disabled=no security.authentication-types=\
    wpa2-psk,wpa3-psk .ft=yes .ft-over-ds=yes .passphrase=redacted1
add configuration.ssid="2.1 MW SPP_Guest" disabled=no mac-address=F6:1E:57:9B:41:CD master-interface=wifi1 name=wifi3 security.passphrase=redacted2
add configuration.ssid="2.1 MW SPP_Guest" disabled=no mac-address=F6:1E:57:9B:41:CE master-interface=wifi2 name=wifi4 security.passphrase=redacted2
/interface lte
set [ find default-name=lte1 ] allow-roaming=no band="" pin=0000
/interface ethernet switch
set 0 cpu-flow-control=yes
/interface list
add comment=defconf name=WAN
add comment=defconf name=LAN
/ip pool
add name=dhcp ranges=192.168.68.100-192.168.68.200
/ip dhcp-server
add address-pool=dhcp interface=bridge name=defconf
/queue type
add fq-codel-ecn=no kind=fq-codel name=fq-codel-ethernet-default
/queue interface
set ether1 queue=fq-codel-ethernet-default
set ether2 queue=fq-codel-ethernet-default
/disk settings
set auto-media-interface=bridge auto-media-sharing=yes auto-smb-sharing=yes
/interface bridge filter
add action=drop chain=forward in-interface=wifi3
add action=drop chain=forward out-interface=wifi3
add action=drop chain=forward in-interface=wifi4
add action=drop chain=forward out-interface=wifi4
/interface bridge port
add bridge=bridge comment=defconf interface=ether2
add bridge=bridge comment=defconf interface=wifi1
add bridge=bridge comment=defconf interface=wifi2
add bridge=bridge interface=wifi3
add bridge=bridge interface=wifi4
/ip neighbor discovery-settings
set discover-interface-list=LAN
/interface list member
add comment=defconf interface=bridge list=LAN
add comment=defconf interface=lte1 list=WAN
/ip address
add address=192.168.68.1/24 comment=defconf interface=bridge network=192.168.68.0
/ip cloud
set ddns-enabled=yes
/ip dhcp-client
add default-route-tables=main interface=ether1
/ip dhcp-server network
add address=192.168.68.0/24 comment=defconf dns-server=192.168.68.1 gateway=192.168.68.1 netmask=24
/ip dns
set allow-remote-requests=yes
/ip dns static
add address=192.168.68.1 comment=defconf name=router.lan type=A
/ip firewall address-list
add address=vpn.example.net list=Administration
/ip firewall filter
add action=accept chain=input src-address-list=Administration
add action=accept chain=input comment="defconf: accept established,related,untracked" connection-state=established,related,untracked
add action=drop chain=input comment="defconf: drop invalid" connection-state=invalid
add action=accept chain=input comment="defconf: accept ICMP" protocol=icmp
add action=drop chain=input comment="defconf: drop all not coming from LAN" in-interface-list=!LAN
/ip firewall nat
add action=masquerade chain=srcnat comment="defconf: masquerade" ipsec-policy=out,none out-interface-list=WAN
/ipv6 nd
set [ find default=yes ] advertise-dns=yes
/system clock
set time-zone-name=Europe/Kiev
/system identity
set name=2.1_MW_SPP
/tool mac-server
set allowed-interface-list=LAN
/tool romon
set enabled=yes secrets=redacted
