// The domain XML the libvirt driver defines: a server's display name, which its member chooses,
// never reaches a host path or the libvirt domain name (both come from the uuid).
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <pugixml.hpp>

#include "common/errors.hpp"

namespace ferry::agent::libvirt {
namespace {

struct Parsed {
  std::string name, title, serial;
};

Parsed Parse(const std::string& xml) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml.c_str())) << xml;
  auto dom = doc.child("domain");
  return {dom.child_value("name"), dom.child_value("title"),
          dom.child("devices").child("serial").child("source").attribute("path").value()};
}

wire::Domain Server(const std::string& name) {
  wire::Domain d;
  d.uuid = "4B1C8E52-0F3A-4D6E-9A7B-2C5D8E1F3A4B";
  d.name = name;
  d.vcpus = 1;
  d.memory_mb = 128;
  return d;
}

TEST(LibvirtDomainXml, ANameWithDotDotStaysOutOfEveryPath) {
  LibvirtConfig c;
  c.serial_dir = "/var/log/libvirt/serial";
  c.guest_kernel = "/k.elf";
  for (const std::string name : {"../../x", "../qemu/victim", "/etc/passwd", "web"}) {
    auto xml = Parse(DomainXml(c, Server(name)));
    EXPECT_EQ(xml.name, "ferry-4b1c8e52-0f3a-4d6e-9a7b-2c5d8e1f3a4b") << name;
    EXPECT_EQ(xml.title, name) << "the display name is kept for the inventory";
    EXPECT_EQ(xml.serial, c.serial_dir + "/ferry-4b1c8e52-0f3a-4d6e-9a7b-2c5d8e1f3a4b.log");
    EXPECT_EQ(std::filesystem::path(xml.serial).lexically_normal().parent_path(), c.serial_dir)
        << name;
  }
}

TEST(LibvirtDomainXml, TwoServersOfOneNameGetTwoDomainNames) {
  LibvirtConfig c;
  auto a = Server("web");
  auto b = Server("web");
  b.uuid = "0d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
  EXPECT_NE(Parse(DomainXml(c, a)).name, Parse(DomainXml(c, b)).name);
}

TEST(LibvirtDomainXml, ControlCharactersNeverReachTheTitleAndABadUuidIsRefused) {
  LibvirtConfig c;
  EXPECT_EQ(Parse(DomainXml(c, Server("a\nb"))).title, "a b") << "libvirt refuses a newline";
  auto bad = Server("web");
  bad.uuid = "../../x";
  EXPECT_THROW(DomainXml(c, bad), Error);
}

}  // namespace
}  // namespace ferry::agent::libvirt
